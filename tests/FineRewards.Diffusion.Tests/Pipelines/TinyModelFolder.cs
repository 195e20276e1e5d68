using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;

namespace FineRewards.Diffusion.Tests.Pipelines;

/// <summary>
/// A tiny random-weight Stable Diffusion folder written by the test (<see cref="SyntheticPipeline"/> "tiny":
/// the unet_tiny / vae_tiny / clip_text_tiny fixture configs, VAE factor 2 so 16x16 images have 8x8
/// latents, and a CLIP-format vocabulary of a few words). Weights come from a seeded generator, so
/// every test run sees the same model.
/// </summary>
public sealed class TinyModelFolder : IDisposable
{
    public string Root { get; }
    public string Folder => Path.Combine(Root, "tiny-sd");

    public TinyModelFolder() : this(SchedulerConfig.StableDiffusion) { }

    public TinyModelFolder(SchedulerConfig scheduler, long seed = 7)
    {
        Root = Path.Combine(Path.GetTempPath(), "fr-tiny-sd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        SyntheticPipeline.WriteFolder("tiny", Folder, seed, scheduler);
    }

    public StableDiffusionPipeline Load(PipelineOptions? options = null) => StableDiffusionPipeline.FromDiffusersFolder(Folder, options);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
