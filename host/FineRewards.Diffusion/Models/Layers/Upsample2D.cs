using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Layers;

/// <summary>diffusers' <c>Upsample2D</c> with a convolution: nearest-neighbour x2 (or to a given size), then 3x3 conv.</summary>
public sealed class Upsample2D : nn.Module<Tensor, long[]?, Tensor>
{
    private readonly Conv2d conv;

    public Upsample2D(long channels, long outChannels) : base(nameof(Upsample2D))
    {
        conv = nn.Conv2d(channels, outChannels, 3, stride: 1, padding: 1);
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <param name="outputSize">[H', W'] when the skip connection is not exactly twice the size (odd inputs), else null</param>
    /// <returns>[B, Cout, 2H, 2W] (or [B, Cout, H', W'])</returns>
    public override Tensor forward(Tensor x, long[]? outputSize)
    {
        using var scope = NewDisposeScope();
        var up = outputSize is null
            ? F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest)
            : F.interpolate(x, size: outputSize, mode: InterpolationMode.Nearest);
        return conv.call(up).MoveToOuterDisposeScope();
    }
}
