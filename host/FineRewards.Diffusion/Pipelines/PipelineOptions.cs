using FineRewards.Contracts;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>Limits of a <see cref="StableDiffusionPipeline"/>.</summary>
/// <param name="MaxBatchSize">Candidates denoised together in one UNet batch (twice this many rows with guidance).</param>
/// <param name="MaxCandidates">The largest K a request may ask for.</param>
public sealed record PipelineOptions(int MaxBatchSize = 8, int MaxCandidates = 64)
{
    public static PipelineOptions Default { get; } = new();
}

/// <summary>A cheap look at a candidate while it is denoised: the VAE decode of the predicted clean latent.</summary>
public sealed record GenerationPreview(int Step, int Steps, int CandidateIndex, long Seed, RgbImage Image);

/// <summary>Preview decoding during generation.</summary>
/// <param name="EverySteps">Decode after every this many steps (not after the last: the final image follows).</param>
/// <param name="OnPreview">Receives one preview per candidate.</param>
/// <param name="LatentDownscale">Average-pool the predicted latent by this factor before decoding (cheaper, smaller preview).</param>
public sealed record PreviewOptions(int EverySteps, Action<GenerationPreview> OnPreview, int LatentDownscale = 1);
