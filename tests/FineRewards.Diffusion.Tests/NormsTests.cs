using FineRewards.Diffusion.Nn;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests;

public class NormsTests
{
    [Fact]
    public void GroupNorm_starts_as_identity_affine_and_normalises()
    {
        using var scope = NewDisposeScope();
        using var norm = Norms.GroupNorm(4, 16, eps: 1e-6);
        Assert.True(norm.weight!.eq(1f).all().item<bool>(), "weight must start at 1");
        Assert.True(norm.bias!.eq(0f).all().item<bool>(), "bias must start at 0");

        var x = randn(2, 16, 5, 5) * 7 + 3;
        var y = norm.forward(x);
        Assert.True(y.isfinite().all().item<bool>());
        // Each group of 4 channels is normalised to mean 0, variance 1.
        var groups = y.reshape(2, 4, -1);
        Assert.True(groups.mean([2]).abs().max().item<float>() < 1e-4);
        Assert.True((groups.var(2, unbiased: false) - 1).abs().max().item<float>() < 1e-3);
    }
}
