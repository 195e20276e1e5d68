using static TorchSharp.torch;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>
/// A diffusers-style sampler. Usage: <c>SetTimesteps(n)</c>; <c>x = noise * InitNoiseSigma</c>; for each
/// t in <see cref="Timesteps"/>: <c>out = unet(ScaleModelInput(x, t), t)</c>, <c>x = Step(out, t, x)</c>.
/// Tensors are float32; <see cref="Step"/> returns a new tensor owned by the caller.
/// </summary>
public interface IScheduler
{
    SchedulerConfig Config { get; }

    /// <summary>ᾱ_t for t = 0..num_train_timesteps-1 (float32, as diffusers computes them).</summary>
    IReadOnlyList<float> AlphasCumprod { get; }

    /// <summary>Chooses the timesteps of an n-step sampling run and resets the step state.</summary>
    void SetTimesteps(int numInferenceSteps);

    /// <summary>The current run's timesteps, from noisy to clean (Euler's are fractional).</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>Standard deviation of the initial noise (1 for DDIM/DPM, the largest sigma for Euler).</summary>
    double InitNoiseSigma { get; }

    /// <summary>The UNet input for timestep t (Euler divides by √(σ²+1); DDIM/DPM return the sample).</summary>
    Tensor ScaleModelInput(Tensor sample, double timestep);

    /// <summary>One denoising step: the sample at the next (less noisy) timestep.</summary>
    /// <param name="generator">Noise source of stochastic samplers (Euler ancestral); ignored by the others.</param>
    Tensor Step(Tensor modelOutput, double timestep, Tensor sample, Generator? generator = null);
}
