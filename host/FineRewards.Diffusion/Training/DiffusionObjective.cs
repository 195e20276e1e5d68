using FineRewards.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Training;

/// <summary>
/// The denoising objective of latent diffusion training, shared by full training (the Shapes pack's
/// UNet) and LoRA fine-tuning (RAFT rounds): noise a clean latent to a random timestep with the
/// scheduler's ᾱ, ask the UNet for the prediction its <c>prediction_type</c> names, MSE against it.
/// </summary>
public sealed class DiffusionObjective
{
    readonly Tensor alphasCumprod;   // [T] float32, on the CPU; moved to the latents' device per call
    public SchedulerConfig Config { get; }

    public DiffusionObjective(SchedulerConfig config)
    {
        Config = config;
        alphasCumprod = tensor(NoiseSchedule.AlphasCumprod(config)).DetachFromDisposeScope();
    }

    /// <summary>Uniform integer timesteps in [low, T), one per sample, drawn from <paramref name="generator"/>.</summary>
    public Tensor SampleTimesteps(long batch, Generator? generator = null, Device? device = null, int low = 0) =>
        randint(low, Config.NumTrainTimesteps, [batch], dtype: ScalarType.Int64, device: device, generator: generator);

    /// <summary>The first timestep at or above <paramref name="fraction"/> of T (a LoRA's <c>MinTimestep</c>).</summary>
    public int TimestepAt(double fraction) => Math.Min(Config.NumTrainTimesteps - 1, (int)Math.Ceiling(fraction * Config.NumTrainTimesteps));

    /// <summary>x_t = √ᾱ_t · x₀ + √(1-ᾱ_t) · ε (the forward process; diffusers' add_noise).</summary>
    /// <param name="latents">x₀ [B, C, H, W]</param>
    /// <param name="noise">ε [B, C, H, W]</param>
    /// <param name="timesteps">t [B] int64</param>
    public Tensor AddNoise(Tensor latents, Tensor noise, Tensor timesteps)
    {
        var (a, s) = Coefficients(timesteps, latents);
        return a * latents + s * noise;
    }

    /// <summary>What the UNet is trained to output: ε for "epsilon", v = √ᾱ·ε - √(1-ᾱ)·x₀ for "v_prediction".</summary>
    public Tensor Target(Tensor latents, Tensor noise, Tensor timesteps)
    {
        if (!Config.IsVPrediction) return noise;
        var (a, s) = Coefficients(timesteps, latents);
        return a * noise - s * latents;
    }

    /// <summary>
    /// The training loss of one batch: mean squared error between the UNet's output at (x_t, t, text)
    /// and <see cref="Target"/>. Noise and timesteps come from <paramref name="generator"/>, so a
    /// seeded run repeats exactly.
    /// </summary>
    /// <param name="denoiser">(x_t [B,C,H,W], t [B], text [B,L,D]) → prediction [B,C,H,W]</param>
    /// <param name="latents">x₀ [B, C, H, W], already scaled by the VAE's scaling factor</param>
    /// <param name="textEmbeddings">encoder hidden states [B, L, D]</param>
    /// <param name="minTimestep">timesteps are drawn from [minTimestep, T)</param>
    public Tensor Loss(Func<Tensor, Tensor, Tensor, Tensor> denoiser, Tensor latents, Tensor textEmbeddings, Generator? generator = null, int minTimestep = 0)
    {
        var noise = randn(latents.shape, dtype: latents.dtype, device: latents.device, generator: generator);   // ε [B,C,H,W]
        var t = SampleTimesteps(latents.shape[0], generator, latents.device, minTimestep);                         // [B]
        var noisy = AddNoise(latents, noise, t);                                                                  // x_t [B,C,H,W]
        var prediction = denoiser(noisy, t, textEmbeddings);                                                      // [B,C,H,W]
        return nn.functional.mse_loss(prediction.to_type(ScalarType.Float32), Target(latents, noise, t).to_type(ScalarType.Float32));
    }

    /// <summary>
    /// Diffusion-DPO's loss (Wallace et al., 2023) on B preference pairs: both images of a pair are noised with the same ε and
    /// t; each one's squared error (mean over its elements) is taken for the trained model and for the frozen
    /// <paramref name="reference"/>, and -log σ(-β/2 · [(err_w - ref_w) - (err_l - ref_l)]) is minimised. Equal to log 2
    /// while the model is the reference.
    /// </summary>
    /// <param name="reference">the base model's denoiser, called without gradients</param>
    /// <param name="winners">x₀ of the kept images [B, C, H, W]</param>
    /// <param name="losers">x₀ of the rejected images [B, C, H, W]</param>
    public Tensor PreferenceLoss(Func<Tensor, Tensor, Tensor, Tensor> denoiser, Func<Tensor, Tensor, Tensor, Tensor> reference,
        Tensor winners, Tensor losers, Tensor textEmbeddings, double beta, Generator? generator = null, int minTimestep = 0)
    {
        var noise = randn(winners.shape, dtype: winners.dtype, device: winners.device, generator: generator);     // ε [B,C,H,W]
        var t = SampleTimesteps(winners.shape[0], generator, winners.device, minTimestep);                         // [B]
        var x0 = cat([winners, losers], 0);                                                                         // [2B,C,H,W]
        var noise2 = cat([noise, noise], 0);
        var t2 = cat([t, t], 0);                                                                                    // [2B]
        var noisy = AddNoise(x0, noise2, t2);
        var target = Target(x0, noise2, t2).to_type(ScalarType.Float32);
        var text2 = cat([textEmbeddings, textEmbeddings], 0);                                                       // [2B,L,D]
        var model = (denoiser(noisy, t2, text2).to_type(ScalarType.Float32) - target).pow(2).mean([1, 2, 3]);       // [2B]
        Tensor baseline;
        using (no_grad())
            baseline = (reference(noisy, t2, text2).to_type(ScalarType.Float32) - target).pow(2).mean([1, 2, 3]);   // [2B]
        long b = winners.shape[0];
        var gain = (model[..(int)b] - baseline[..(int)b]) - (model[(int)b..] - baseline[(int)b..]);                // [B]
        return -nn.functional.logsigmoid(gain * (-0.5 * beta)).mean();
    }

    /// <returns>√ᾱ_t and √(1-ᾱ_t), each [B, 1, 1, 1] in the latents' dtype and device.</returns>
    (Tensor SqrtAlpha, Tensor SqrtOneMinusAlpha) Coefficients(Tensor timesteps, Tensor like)
    {
        var ab = alphasCumprod.to(like.device).index_select(0, timesteps.to(like.device)).to_type(like.dtype).view(-1, 1, 1, 1);
        return (ab.sqrt(), (1 - ab).sqrt());
    }
}
