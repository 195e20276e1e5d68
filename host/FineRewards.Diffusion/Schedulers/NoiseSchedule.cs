using FineRewards.Core;
using FineRewards.Contracts;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// The arithmetic the schedulers share, reproducing diffusers 0.27's rounding: betas and ᾱ in float32
/// torch ops, timestep grids and sigma interpolation in float64 numpy semantics, cast to float32.
/// </summary>
public static class NoiseSchedule
{
    /// <summary>ᾱ_t = Π(1 - β). scaled_linear: β = linspace(√β₀, √β₁, N)², linear: β = linspace(β₀, β₁, N).</summary>
    public static float[] AlphasCumprod(SchedulerConfig config)
    {
        using var scope = NewDisposeScope();
        int n = config.NumTrainTimesteps;
        var betas = config.BetaSchedule == "scaled_linear"
            ? linspace(Math.Sqrt(config.BetaStart), Math.Sqrt(config.BetaEnd), n, dtype: ScalarType.Float32).pow(2)
            : linspace(config.BetaStart, config.BetaEnd, n, dtype: ScalarType.Float32);
        var alphas = 1.0f - betas;
        return alphas.cumprod(0).data<float>().ToArray();
    }

    /// <summary>σ_t = √((1-ᾱ)/ᾱ) in float32, the noise level of an ᾱ in the variance-exploding parameterisation.</summary>
    public static float[] TrainSigmas(IReadOnlyList<float> alphasCumprod) =>
        alphasCumprod.Select(a => MathF.Sqrt((1f - a) / a)).ToArray();

    /// <summary><c>np.linspace(start, stop, num)</c> in float64 (i·step + start, the last one exactly stop).</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        var y = new double[num];
        double step = num > 1 ? (stop - start) / (num - 1) : 0;
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        if (num > 1) y[^1] = stop;
        return y;
    }

    /// <summary><c>np.interp(x, arange(len(fp)), fp)</c>: piecewise-linear lookup at fractional timesteps.</summary>
    public static double Interp(double x, IReadOnlyList<float> fp)
    {
        if (x <= 0) return fp[0];
        if (x >= fp.Count - 1) return fp[^1];
        int j = (int)Math.Floor(x);
        double slope = (double)fp[j + 1] - fp[j];   // the grid spacing is 1
        return slope * (x - j) + fp[j];
    }

    /// <summary>
    /// Timesteps as DDIM/Euler compute them, largest first. leading: k·(N div n) + offset;
    /// linspace: round(linspace(0, N-1, n)); trailing: round(N - k·N/n) - 1.
    /// </summary>
    public static double[] Spaced(SchedulerConfig config, string spacing, int n, bool integer)
    {
        if (n < 1 || n > config.NumTrainTimesteps)
            throw new InputException("num_inference_steps", $"must be between 1 and {config.NumTrainTimesteps}, got {n}");
        int total = config.NumTrainTimesteps;
        double[] t = spacing switch
        {
            "leading" => Enumerable.Range(0, n).Select(k => (double)(k * (total / n) + config.StepsOffset)).Reverse().ToArray(),
            // DDIM rounds the grid to integers; Euler keeps it as float32 values.
            "linspace" => Linspace(0, total - 1, n).Select(v => integer ? Math.Round(v) : (double)(float)v).Reverse().ToArray(),
            "trailing" => Arange(total, 0, -(double)total / n).Select(v => Math.Round(v) - 1).ToArray(),
            _ => throw new InputException("timestep_spacing", $"unknown spacing \"{spacing}\""),
        };
        return t;
    }

    /// <summary><c>np.arange(start, stop, step)</c> for a float step: ceil((stop-start)/step) values start + i·step.</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        int count = (int)Math.Ceiling((stop - start) / step);
        return Enumerable.Range(0, Math.Max(count, 0)).Select(i => start + i * step).ToArray();
    }

    /// <summary>
    /// Sigmas of a run at its timesteps (interpolated between the training sigmas), followed by
    /// <paramref name="last"/>, cast to float32 as diffusers does.
    /// </summary>
    public static float[] SigmasAt(IReadOnlyList<float> trainSigmas, IReadOnlyList<double> timesteps, float last = 0f) =>
        timesteps.Select(t => (float)Interp(t, trainSigmas)).Append(last).ToArray();

    /// <summary>
    /// Position of <paramref name="timestep"/> in the schedule, as diffusers' index_for_timestep: the
    /// second match when a value repeats (so a schedule starting in the middle does not skip a sigma).
    /// </summary>
    public static int IndexOf(IReadOnlyList<double> timesteps, double timestep)
    {
        var matches = Enumerable.Range(0, timesteps.Count).Where(i => timesteps[i] == timestep).ToList();
        if (matches.Count == 0)
            throw new ArgumentException($"timestep {timestep} is not in the current schedule ({timesteps.Count} steps); call SetTimesteps first");
        return matches.Count > 1 ? matches[1] : matches[0];
    }
}
