using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// diffusers' <c>Timesteps</c> (<c>time_proj</c>): the sinusoidal embedding of each timestep,
/// frequencies exp(-ln(10000)·i / (half - freq_shift)), [sin | cos], or [cos | sin] when
/// <c>flip_sin_to_cos</c> (SD). No parameters.
/// </summary>
public sealed class Timesteps : nn.Module<Tensor, Tensor>
{
    private readonly long dim;
    private readonly bool flipSinToCos;
    private readonly double freqShift;

    public Timesteps(long dim, bool flipSinToCos, double freqShift) : base(nameof(Timesteps))
    {
        this.dim = dim;
        this.flipSinToCos = flipSinToCos;
        this.freqShift = freqShift;
        RegisterComponents();
    }

    /// <param name="timesteps">[B], any numeric dtype</param>
    /// <returns>[B, dim] float32</returns>
    public override Tensor forward(Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        long half = dim / 2;
        var exponent = arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * (float)(-Math.Log(10000.0));
        var freqs = exp(exponent / (float)(half - freqShift));                                  // [half]
        var angles = timesteps.to(ScalarType.Float32)[.., TensorIndex.None] * freqs[TensorIndex.None, ..];   // [B, half]
        var emb = flipSinToCos ? cat([cos(angles), sin(angles)], -1) : cat([sin(angles), cos(angles)], -1);  // [B, 2*half]
        if (dim % 2 == 1) emb = F.pad(emb, [0, 1, 0, 0]);                                      // odd widths get a zero column
        return emb.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: linear_1 -> SiLU -> linear_2.</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Linear linear_1;
    private readonly Linear linear_2;

    public TimestepEmbedding(long inChannels, long timeEmbedDim) : base(nameof(TimestepEmbedding))
    {
        linear_1 = nn.Linear(inChannels, timeEmbedDim);
        linear_2 = nn.Linear(timeEmbedDim, timeEmbedDim);
        RegisterComponents();
    }

    /// <param name="x">[B, Cin]</param>
    /// <returns>[B, T]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return linear_2.call(F.silu(linear_1.call(x))).MoveToOuterDisposeScope();
    }
}
