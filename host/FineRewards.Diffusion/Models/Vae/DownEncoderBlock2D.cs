using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>diffusers' <c>DownEncoderBlock2D</c>: resnets without time embedding, then an optional downsampler (padding 0: pad right/bottom).</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;

    public DownEncoderBlock2D(long inChannels, long outChannels, int layers, bool addDownsample, long groups, double eps = 1e-6)
        : base(nameof(DownEncoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>();
        for (int i = 0; i < layers; i++)
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, eps));
        if (addDownsample) downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, outChannels, padding: 0));
        RegisterComponents();
    }

    /// <param name="x">[B, Cin, H, W]</param>
    /// <returns>[B, Cout, H/2, W/2] with a downsampler, else [B, Cout, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.forward(x, null);
        if (downsamplers is not null) x = downsamplers[0].forward(x);
        return x.MoveToOuterDisposeScope();
    }
}
