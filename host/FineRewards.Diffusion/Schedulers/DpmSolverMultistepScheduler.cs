using FineRewards.Core;
using FineRewards.Contracts;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// diffusers' DPMSolverMultistepScheduler as "DPM++ 2M": algorithm dpmsolver++ (the solver works on
/// x₀ predictions), solver_order 2, midpoint solver type, lower_order_final, final_sigmas_type "zero"
/// (the last step lands on σ = 0, i.e. returns the x₀ prediction). Default spacing "linspace".
/// With λ = log(α/σ) and h = λ_t - λ_s, a first-order step is x_t = (σ_t/σ_s)·x_s - α_t(e^-h - 1)·x̂₀,
/// and the second-order one adds ½·α_t(1 - e^-h)·D1 with D1 the x̂₀ slope over the previous step.
/// </summary>
public sealed class DpmSolverMultistepScheduler : IScheduler, IDisposable
{
    const int SolverOrder = 2;

    readonly float[] _alphasCumprod;
    readonly float[] _trainSigmas;
    double[] _timesteps = [];
    float[] _sigmas = [];
    int? _stepIndex;
    int _lowerOrderNums;
    Tensor? _previousX0;   // x̂₀ of the previous step, kept outside any dispose scope

    public SchedulerConfig Config { get; }
    public IReadOnlyList<float> AlphasCumprod => _alphasCumprod;
    /// <summary>σ of each timestep of the run, then 0.</summary>
    public IReadOnlyList<float> Sigmas => _sigmas;
    public IReadOnlyList<double> Timesteps => _timesteps;
    public double InitNoiseSigma => 1.0;

    public DpmSolverMultistepScheduler(SchedulerConfig config)
    {
        config.Validate("DPMSolverMultistepScheduler");
        Config = config;
        _alphasCumprod = NoiseSchedule.AlphasCumprod(config);
        _trainSigmas = NoiseSchedule.TrainSigmas(_alphasCumprod);
    }

    public void SetTimesteps(int numInferenceSteps)
    {
        int n = numInferenceSteps, total = Config.NumTrainTimesteps;
        if (n < 1 || n > total)
            throw new InputException("num_inference_steps", $"must be between 1 and {total}, got {n}");
        // An (n+1)-point grid whose last (t = 0 end) point is dropped: the final step goes to σ = 0 instead.
        _timesteps = (Config.TimestepSpacing ?? "linspace") switch
        {
            "linspace" => NoiseSchedule.Linspace(0, total - 1, n + 1).Select(t => Math.Round(t)).Reverse().Take(n).ToArray(),
            "leading" => Enumerable.Range(0, n + 1).Select(k => (double)(k * (total / (n + 1)))).Reverse().Take(n)
                .Select(t => t + Config.StepsOffset).ToArray(),
            _ => NoiseSchedule.Arange(total, 0, -(double)total / n).Select(t => Math.Round(t) - 1).ToArray(),
        };
        _sigmas = NoiseSchedule.SigmasAt(_trainSigmas, _timesteps, last: 0f);
        _stepIndex = null;
        _lowerOrderNums = 0;
        _previousX0?.Dispose();
        _previousX0 = null;
    }

    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    public Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null)
    {
        if (_sigmas.Length == 0) throw new InvalidOperationException("call SetTimesteps before Step");
        int i = _stepIndex ??= NoiseSchedule.IndexOf(_timesteps, timestep);
        if (i >= _timesteps.Length) throw new InvalidOperationException("the schedule has no steps left; call SetTimesteps again");

        using var scope = NewDisposeScope();
        var (alphaS0, sigmaS0) = AlphaSigma(_sigmas[i]);
        var (alphaT, sigmaT) = AlphaSigma(_sigmas[i + 1]);
        float lambdaT = Lambda(alphaT, sigmaT), lambdaS0 = Lambda(alphaS0, sigmaS0);
        float h = lambdaT - lambdaS0;
        float expm = MathF.Exp(-h) - 1f;   // e^-h - 1; at σ_t = 0, h = ∞ and this is -1

        var x0 = Config.IsVPrediction                                     // like sample [B, C, H, W]
            ? alphaS0 * sample - sigmaS0 * modelOutput
            : (sample - sigmaS0 * modelOutput) / alphaS0;

        // The last step is first order (final_sigmas_type zero); so is the first, with no history yet.
        bool lastStep = i == _timesteps.Length - 1;
        Tensor prev;
        if (_lowerOrderNums < 1 || lastStep || _previousX0 is null)
        {
            prev = (sigmaT / sigmaS0) * sample - (alphaT * expm) * x0;
        }
        else
        {
            var (alphaS1, sigmaS1) = AlphaSigma(_sigmas[i - 1]);
            float h0 = lambdaS0 - Lambda(alphaS1, sigmaS1);
            float r0 = h0 / h;
            var d1 = (1f / r0) * (x0 - _previousX0);                       // x̂₀ slope per unit of h
            prev = (sigmaT / sigmaS0) * sample - (alphaT * expm) * x0 - 0.5f * (alphaT * expm) * d1;
        }
        if (_lowerOrderNums < SolverOrder) _lowerOrderNums++;

        _previousX0?.Dispose();
        _previousX0 = x0.DetachFromDisposeScope();
        _stepIndex = i + 1;
        return prev.MoveToOuterDisposeScope();
    }

    // VP coefficients of a VE σ: α = 1/√(σ²+1), σ_vp = σ·α.
    static (float alpha, float sigma) AlphaSigma(float sigma)
    {
        float alpha = 1f / MathF.Sqrt(sigma * sigma + 1f);
        return (alpha, sigma * alpha);
    }

    static float Lambda(float alpha, float sigma) => MathF.Log(alpha) - MathF.Log(sigma);

    /// <summary>Frees the kept x̂₀ of the previous step (it lives outside every dispose scope).</summary>
    public void Dispose()
    {
        _previousX0?.Dispose();
        _previousX0 = null;
    }
}
