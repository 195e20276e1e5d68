using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// diffusers' EulerDiscreteScheduler (Karras et al. Algorithm 2 without churn): the sample lives in the
/// variance-exploding form x = x₀ + σ·ε, and each step follows dx/dσ = (x - x₀)/σ to the next σ.
/// Default spacing "linspace"; the UNet input is x/√(σ²+1).
/// </summary>
public sealed class EulerDiscreteScheduler(SchedulerConfig config) : SigmaStepScheduler(config, "EulerDiscreteScheduler")
{
    public override Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        int i = _steps.BeginStep(timestep);
        float sigma = _steps.Sigmas[i], sigmaNext = _steps.Sigmas[i + 1];
        var x0 = _steps.PredictX0(modelOutput, sample, sigma);            // like sample
        var derivative = (sample - x0) / sigma;                             // dx/dσ = ε̂
        var prev = sample + derivative * (sigmaNext - sigma);
        _steps.EndStep();
        return prev.MoveToOuterDisposeScope();
    }
}
