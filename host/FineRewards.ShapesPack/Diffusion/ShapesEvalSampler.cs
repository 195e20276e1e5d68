using FineRewards.Core.Contracts;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>
/// The trainer's evaluation sampler: DDIM with classifier-free guidance over the pack's own
/// modules. Kept minimal and private to training (StableDiffusionPipeline had not landed when the
/// trainer was written); generation for users goes through the pipeline.
/// </summary>
public static class ShapesEvalSampler
{
    /// <summary>Images for each prompt, <paramref name="k"/> per prompt, seeded per (prompt, candidate) batch.</summary>
    public static IReadOnlyList<IReadOnlyList<RgbImage>> Generate(
        UNet2DConditionModel unet, ClipTextModel textEncoder, AutoencoderKL vae, ClipTokenizer tokenizer, SchedulerConfig schedulerConfig,
        IReadOnlyList<string> prompts, int k, int steps, double guidance, long seed, int batch = 64)
    {
        var flat = prompts.SelectMany(p => Enumerable.Repeat(p, k)).ToList();
        var images = new List<RgbImage>();
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        for (int start = 0; start < flat.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            var chunk = flat.Skip(start).Take(batch).ToList();
            int n = chunk.Count;
            var ids = tokenizer.EncodeBatch(chunk, ShapesDiffusionConfig.MaxTokens);                 // [n, L]
            var empty = tokenizer.EncodeBatch([""], ShapesDiffusionConfig.MaxTokens).expand(n, -1); // [n, L]
            var context = textEncoder.forward(cat([empty, ids], 0)).LastHiddenState;               // [2n, L, D]
            var scheduler = new DdimScheduler(schedulerConfig);
            scheduler.SetTimesteps(steps);
            var x = randn(new long[] { n, unet.Config.InChannels, unet.Config.SampleSize!.Value, unet.Config.SampleSize!.Value }, generator: generator)
                    * scheduler.InitNoiseSigma;                                                     // [n, 4, 16, 16]
            foreach (double t in scheduler.Timesteps)
            {
                using var stepScope = NewDisposeScope();
                var input = scheduler.ScaleModelInput(cat([x, x], 0), t);                            // [2n, 4, 16, 16]
                var output = unet.forward(input, tensor((long)t), context).chunk(2, 0);             // uncond, cond
                var guided = output[0] + guidance * (output[1] - output[0]);
                x = scheduler.Step(guided, t, x).MoveToOuterDisposeScope();
            }
            images.AddRange(ShapesTensors.ToImages(vae.Decode(x / vae.ScalingFactor)));
        }
        return Enumerable.Range(0, prompts.Count).Select(i => (IReadOnlyList<RgbImage>)images.Skip(i * k).Take(k).ToList()).ToList();
    }
}
