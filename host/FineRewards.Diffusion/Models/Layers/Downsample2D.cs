using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Downsample2D</c> with a convolution: 3x3, stride 2. With padding 0 (the VAE
/// encoder) diffusers pads only the right and bottom edge by one, so the output grid keeps the
/// top-left alignment the checkpoints were trained with.
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly long padding;

    public Downsample2D(long channels, long outChannels, long padding) : base(nameof(Downsample2D))
    {
        conv = nn.Conv2d(channels, outChannels, 3, stride: 2, padding: padding);
        this.padding = padding;
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, Cout, H/2, W/2]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (padding == 0) x = F.pad(x, [0, 1, 0, 1], TorchSharp.PaddingModes.Constant, 0);   // [B, C, H+1, W+1]
        return conv.call(x).MoveToOuterDisposeScope();
    }
}
