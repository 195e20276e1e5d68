using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// diffusers' DDIMScheduler with eta = 0 (deterministic): from the predicted x₀ and ε,
/// x_prev = √ᾱ_prev·x₀ + √(1-ᾱ_prev)·ε. Default spacing "leading".
/// </summary>
public sealed class DdimScheduler : IScheduler
{
    readonly float[] _alphasCumprod;
    double[] _timesteps = [];
    int _numInferenceSteps;

    public SchedulerConfig Config { get; }
    public IReadOnlyList<float> AlphasCumprod => _alphasCumprod;
    /// <summary>ᾱ used for the step past the last timestep: 1 with set_alpha_to_one, else ᾱ₀.</summary>
    public float FinalAlphaCumprod { get; }
    public IReadOnlyList<double> Timesteps => _timesteps;
    public double InitNoiseSigma => 1.0;

    public DdimScheduler(SchedulerConfig config)
    {
        config.Validate("DDIMScheduler");
        Config = config;
        _alphasCumprod = NoiseSchedule.AlphasCumprod(config);
        FinalAlphaCumprod = config.SetAlphaToOne ? 1f : _alphasCumprod[0];
    }

    public void SetTimesteps(int numInferenceSteps)
    {
        _timesteps = NoiseSchedule.Spaced(Config, Config.TimestepSpacing ?? "leading", numInferenceSteps, integer: true);
        _numInferenceSteps = numInferenceSteps;
    }

    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    public Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null)
    {
        if (_numInferenceSteps == 0) throw new InvalidOperationException("call SetTimesteps before Step");
        using var scope = NewDisposeScope();
        int t = (int)timestep;
        int prev = t - Config.NumTrainTimesteps / _numInferenceSteps;
        float alphaProd = _alphasCumprod[t];
        float alphaProdPrev = prev >= 0 ? _alphasCumprod[prev] : FinalAlphaCumprod;
        float betaProd = 1f - alphaProd;

        var (x0, eps) = Predict(modelOutput, sample, alphaProd, betaProd);  // each like sample [B, C, H, W]
        if (Config.ClipSample) x0 = x0.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        // eta = 0: no fresh noise, the whole remaining variance is the predicted ε's direction.
        var direction = MathF.Sqrt(1f - alphaProdPrev) * eps;
        return (MathF.Sqrt(alphaProdPrev) * x0 + direction).MoveToOuterDisposeScope();
    }

    /// <summary>(x₀, ε) from the model output in a VP sample x = √ᾱ·x₀ + √(1-ᾱ)·ε.</summary>
    (Tensor x0, Tensor eps) Predict(Tensor modelOutput, Tensor sample, float alphaProd, float betaProd)
    {
        float a = MathF.Sqrt(alphaProd), s = MathF.Sqrt(betaProd);
        if (Config.IsVPrediction)   // v = √ᾱ·ε - √(1-ᾱ)·x₀
            return (a * sample - s * modelOutput, a * modelOutput + s * sample);
        return ((sample - s * modelOutput) / a, modelOutput);
    }
}
