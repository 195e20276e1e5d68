using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>diffusers' <c>UpDecoderBlock2D</c>: resnets without time embedding or skips, then an optional nearest x2 upsampler.</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;

    public UpDecoderBlock2D(long inChannels, long outChannels, int layers, bool addUpsample, long groups, double eps = 1e-6)
        : base(nameof(UpDecoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>();
        for (int i = 0; i < layers; i++)
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps));
        if (addUpsample) upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, outChannels));
        RegisterComponents();
    }

    /// <param name="x">[B, Cin, H, W]</param>
    /// <returns>[B, Cout, 2H, 2W] with an upsampler, else [B, Cout, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.forward(x, null);
        if (upsamplers is not null) x = upsamplers[0].forward(x, null);
        return x.MoveToOuterDisposeScope();
    }
}
