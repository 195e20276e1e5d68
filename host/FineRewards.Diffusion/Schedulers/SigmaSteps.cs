using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// What the Euler samplers share: σ per timestep, the √(σ²+1) input scaling, the step counter and x₀
/// from the model output in the variance-exploding form x = x₀ + σ·ε.
/// </summary>
internal sealed class SigmaSteps
{
    readonly SchedulerConfig _config;
    readonly float[] _trainSigmas;
    double[] _timesteps = [];
    float[] _sigmas = [];
    int? _stepIndex;

    public float[] AlphasCumprod { get; }
    public IReadOnlyList<double> Timesteps => _timesteps;
    public IReadOnlyList<float> Sigmas => _sigmas;

    /// <summary>
    /// diffusers 0.27: the largest σ for linspace/trailing spacing, else √(σ_max²+1) (the std of a VE
    /// sample whose VP form has unit variance).
    /// </summary>
    public double InitNoiseSigma
    {
        get
        {
            if (_sigmas.Length == 0) throw new InvalidOperationException("call SetTimesteps first");
            float max = _sigmas.Max();
            return Spacing is "linspace" or "trailing" ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    string Spacing => _config.TimestepSpacing ?? "linspace";

    public SigmaSteps(SchedulerConfig config)
    {
        _config = config;
        AlphasCumprod = NoiseSchedule.AlphasCumprod(config);
        _trainSigmas = NoiseSchedule.TrainSigmas(AlphasCumprod);
    }

    public void SetTimesteps(int n)
    {
        _timesteps = NoiseSchedule.Spaced(_config, Spacing, n, integer: false);
        _sigmas = NoiseSchedule.SigmasAt(_trainSigmas, _timesteps);
        _stepIndex = null;
    }

    int Index(double timestep) => _stepIndex ??= NoiseSchedule.IndexOf(_timesteps, timestep);

    public Tensor ScaleModelInput(Tensor sample, double timestep)
    {
        float sigma = _sigmas[Index(timestep)];
        return sample / MathF.Sqrt(sigma * sigma + 1f);
    }

    public int BeginStep(double timestep)
    {
        int i = Index(timestep);
        if (i + 1 >= _sigmas.Length) throw new InvalidOperationException("the schedule has no steps left; call SetTimesteps again");
        return i;
    }

    public void EndStep() => _stepIndex++;

    /// <summary>x₀ from ε (x - σ·ε) or from v (v is defined on the VP input x/√(σ²+1)).</summary>
    public Tensor PredictX0(Tensor modelOutput, Tensor sample, float sigma)
    {
        if (!_config.IsVPrediction) return sample - sigma * modelOutput;
        float s2 = sigma * sigma + 1f;
        return modelOutput * (-sigma / MathF.Sqrt(s2)) + sample / s2;
    }
}
