using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// diffusers' EulerAncestralDiscreteScheduler: an Euler step down to σ_down, then fresh noise of
/// standard deviation σ_up, with σ_down² + σ_up² = σ_next² (σ_up = σ_next·√(1 - σ_next²/σ²)).
/// Needs a noise source: pass a seeded <see cref="Generator"/> for reproducible samples.
/// </summary>
public sealed class EulerAncestralDiscreteScheduler(SchedulerConfig config) : SigmaStepScheduler(config, "EulerAncestralDiscreteScheduler")
{
    public override Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        int i = _steps.BeginStep(timestep);
        float sigma = _steps.Sigmas[i], sigmaTo = _steps.Sigmas[i + 1];
        var x0 = _steps.PredictX0(modelOutput, sample, sigma);
        float sigmaUp = MathF.Sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        float sigmaDown = MathF.Sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        var derivative = (sample - x0) / sigma;
        var prev = sample + derivative * (sigmaDown - sigma);
        // Drawn on the sample's device from the caller's generator (or the global one).
        var noise = randn(sample.shape, dtype: sample.dtype, device: sample.device, generator: generator);
        prev = prev + noise * sigmaUp;
        _steps.EndStep();
        return prev.MoveToOuterDisposeScope();
    }
}
