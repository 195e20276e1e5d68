using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> ("default" time-embedding norm, pre-norm):
/// x + conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(temb))))), with a 1x1 shortcut when
/// the channel count changes. The VAE builds it without a time embedding.
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    // Field names are the checkpoint's parameter names; their order is diffusers' registration order.
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly Linear? time_emb_proj;
    private readonly GroupNorm norm2;
    private readonly Conv2d conv2;
    private readonly Conv2d? conv_shortcut;
    private readonly double outputScaleFactor;

    public ResnetBlock2D(long inChannels, long outChannels, long? tembChannels, long groups, double eps,
        double outputScaleFactor = 1.0) : base(nameof(ResnetBlock2D))
    {
        norm1 = Norms.GroupNorm(groups, inChannels, eps);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: 1, padding: 1);
        if (tembChannels is long t) time_emb_proj = nn.Linear(t, outChannels);
        norm2 = Norms.GroupNorm(groups, outChannels, eps);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1);
        if (inChannels != outChannels) conv_shortcut = nn.Conv2d(inChannels, outChannels, 1);
        this.outputScaleFactor = outputScaleFactor;
        RegisterComponents();
    }

    /// <param name="x">[B, Cin, H, W]</param>
    /// <param name="temb">[B, T] time embedding, or null (VAE)</param>
    /// <returns>[B, Cout, H, W]</returns>
    public override Tensor forward(Tensor x, Tensor? temb)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(F.silu(norm1.forward(x)));                   // [B, Cout, H, W]
        if (time_emb_proj is not null)
        {
            if (temb is null) throw new ArgumentNullException(nameof(temb), "this resnet block needs a time embedding");
            var t = time_emb_proj.call(F.silu(temb));                    // [B, Cout]
            h = h + t[.., .., TensorIndex.None, TensorIndex.None];          // broadcast over H, W
        }
        h = conv2.call(F.silu(norm2.forward(h)));                        // [B, Cout, H, W]
        var shortcut = conv_shortcut is null ? x : conv_shortcut.call(x);
        var output = shortcut + h;
        if (outputScaleFactor != 1.0) output = output / outputScaleFactor;
        return output.MoveToOuterDisposeScope();
    }
}
