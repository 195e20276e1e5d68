using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// What the Euler-family samplers share: a run's σ grid (<see cref="SigmaSteps"/>), the x/√(σ²+1)
/// input scaling and the IScheduler bookkeeping. Subclasses differ only in <see cref="Step"/>.
/// </summary>
public abstract class SigmaStepScheduler : IScheduler
{
    private protected readonly SigmaSteps _steps;

    public SchedulerConfig Config { get; }
    public IReadOnlyList<float> AlphasCumprod => _steps.AlphasCumprod;
    /// <summary>σ of each timestep of the run, then 0.</summary>
    public IReadOnlyList<float> Sigmas => _steps.Sigmas;
    public IReadOnlyList<double> Timesteps => _steps.Timesteps;
    public double InitNoiseSigma => _steps.InitNoiseSigma;

    private protected SigmaStepScheduler(SchedulerConfig config, string name)
    {
        config.Validate(name);
        Config = config;
        _steps = new SigmaSteps(config);
    }

    public void SetTimesteps(int numInferenceSteps) => _steps.SetTimesteps(numInferenceSteps);

    public Tensor ScaleModelInput(Tensor sample, double timestep) => _steps.ScaleModelInput(sample, timestep);

    public abstract Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null);
}
