using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests.Pipelines;

/// <summary>
/// A tiny random-weight Stable Diffusion folder written by the test: the unet_tiny / vae_tiny fixture
/// configs (VAE factor 2, so 16x16 images have 8x8 latents), the clip_text_tiny config and a
/// CLIP-format vocabulary trained on a few words.
/// </summary>
public sealed class TinyModelFolder : IDisposable
{
    public static readonly string[] Words = ["a", "red", "blue", "green", "circle", "square", "triangle", "left", "of", "the", "two", "blurry"];

    public string Root { get; }
    public string Folder => Path.Combine(Root, "tiny-sd");

    public TinyModelFolder() : this(SchedulerConfig.StableDiffusion) { }

    public TinyModelFolder(SchedulerConfig scheduler, long seed = 7)
    {
        Root = Path.Combine(Path.GetTempPath(), "fr-tiny-sd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        Write(Folder, Path.Combine(Root, "tokenizer-src"), scheduler, seed);
    }

    public static void Write(string folder, string tokenizerFolder, SchedulerConfig scheduler, long seed)
    {
        var (vocab, merges) = ClipVocabularyBuilder.Train(Words.ToDictionary(w => w, _ => 1));
        ClipVocabularyBuilder.WriteFiles(tokenizerFolder, vocab, merges);
        manual_seed(seed);
        using var unet = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json")));
        using var vae = new AutoencoderKL(AutoencoderKLConfig.FromFile(PathOf("vae_tiny.json")));
        using var text = new ClipTextModel(ClipTextConfig.Tiny());
        StableDiffusionFolderWriter.Write(folder, unet, vae, text, tokenizerFolder, scheduler);
    }

    public StableDiffusionPipeline Load(PipelineOptions? options = null) => StableDiffusionPipeline.FromDiffusersFolder(Folder, options);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
