using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>diffusers' <c>GEGLU</c>: one projection to twice the width, half of it gated by exact GELU of the other half.</summary>
public sealed class GEGLU : nn.Module<Tensor, Tensor>
{
    private readonly Linear proj;

    public GEGLU(long dimIn, long dimOut) : base(nameof(GEGLU))
    {
        proj = nn.Linear(dimIn, dimOut * 2);
        RegisterComponents();
    }

    /// <param name="x">[B, N, Din]</param>
    /// <returns>[B, N, Dout]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var halves = proj.call(x).chunk(2, -1);   // 2 x [B, N, Dout]: value first, gate second
        return (halves[0] * F.gelu(halves[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>FeedForward</c> with the "geglu" activation: <c>net</c> = [GEGLU(dim, 4·dim), Dropout,
/// Linear(4·dim, dim)], so the checkpoint keys are <c>ff.net.0.proj</c> and <c>ff.net.2</c>.
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> net;

    public FeedForward(long dim, double dropout = 0.0, long mult = 4) : base(nameof(FeedForward))
    {
        long inner = dim * mult;
        net = new ModuleList<nn.Module<Tensor, Tensor>>(new GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim));
        RegisterComponents();
    }

    /// <param name="x">[B, N, D]</param>
    /// <returns>[B, N, D]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in net) h = layer.call(h);   // [B, N, 4D] -> [B, N, 4D] -> [B, N, D]
        return h.MoveToOuterDisposeScope();
    }
}
