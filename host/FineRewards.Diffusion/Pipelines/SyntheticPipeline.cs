using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>
/// Random-weight pipelines of a named architecture, for benchmarks and tests: the network sizes are
/// real, the images are noise. The tokenizer is a small CLIP-format vocabulary of a few words (token
/// ids are all below every text encoder's vocab_size, so the embedding lookups are the same work).
/// </summary>
public static class SyntheticPipeline
{
    public static IReadOnlyList<string> Architectures { get; } = ["tiny", "sd15"];

    static readonly string[] Words = ["a", "photo", "of", "the", "two", "red", "blue", "green", "circle", "square", "triangle", "left", "right", "above", "below", "blurry"];

    /// <summary>The tiny test architecture (the unet_tiny / vae_tiny / clip_text_tiny fixture configs).</summary>
    public static UNet2DConditionConfig TinyUnet { get; } = new()
    {
        SampleSize = 16,
        BlockOutChannels = [32, 64],
        DownBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"],
        UpBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"],
        LayersPerBlock = [1],
        CrossAttentionDim = [32],
        AttentionHeadDim = [8],
        NormNumGroups = 8,
    };

    public static AutoencoderKLConfig TinyVae { get; } = new()
    {
        BlockOutChannels = [32, 64],
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        NormNumGroups = 8,
        SampleSize = 32,
    };

    /// <param name="arch">"tiny" or "sd15"</param>
    public static StableDiffusionPipeline Create(string arch, long seed = 0, PipelineOptions? options = null)
    {
        var configs = Configs(arch);
        var tokenizer = WithTokenizerFiles(ClipTokenizer.FromPretrained);
        var (text, unet, vae) = Models(configs, seed);
        return new StableDiffusionPipeline(tokenizer, text, unet, vae, SchedulerConfig.StableDiffusion,
            $"synthetic-{arch}", () => $"random-weights-{arch}-seed-{seed}", options);
    }

    /// <summary>Writes a random-weight diffusers folder of the architecture (loadable by <see cref="StableDiffusionPipeline.FromDiffusersFolder"/>).</summary>
    /// <param name="scheduler">The scheduler config to write (default: Stable Diffusion's, epsilon prediction).</param>
    public static void WriteFolder(string arch, string folder, long seed = 0, SchedulerConfig? scheduler = null)
    {
        var configs = Configs(arch);
        var (text, unet, vae) = Models(configs, seed);
        using (text)
        using (unet)
        using (vae)
            WithTokenizerFiles(tokenizerFolder =>
            {
                StableDiffusionFolderWriter.Write(folder, unet, vae, text, tokenizerFolder, scheduler ?? SchedulerConfig.StableDiffusion);
                return true;
            });
    }

    static (UNet2DConditionConfig Unet, AutoencoderKLConfig Vae, ClipTextConfig Text) Configs(string arch) => arch switch
    {
        "tiny" => (TinyUnet, TinyVae, ClipTextConfig.Tiny()),
        "sd15" => (UNet2DConditionConfig.Sd15, AutoencoderKLConfig.SdVae, ClipTextConfig.VitL14),
        _ => throw new InputException("arch", $"unknown architecture \"{arch}\"; expected one of {string.Join(", ", Architectures)}"),
    };

    static (ClipTextModel, UNet2DConditionModel, AutoencoderKL) Models((UNet2DConditionConfig Unet, AutoencoderKLConfig Vae, ClipTextConfig Text) c, long seed)
    {
        var text = new ClipTextModel(c.Text);
        var unet = new UNet2DConditionModel(c.Unet);
        var vae = new AutoencoderKL(c.Vae);
        using var generator = new Generator(unchecked((ulong)seed));
        foreach (nn.Module module in new nn.Module[] { text, unet, vae }) Reinitialize(module, generator);
        return (text, unet, vae);
    }

    /// <summary>
    /// Redraws the weights from <paramref name="generator"/> (the constructors draw from torch's global
    /// generator, which other threads may use at the same time): matrices and kernels U(±1/√fan_in) as
    /// nn.Linear/Conv2d's default, other vectors (biases) U(±0.05); norm scales (all 1) and shifts
    /// (all 0) keep their exact initial values.
    /// </summary>
    public static void Reinitialize(nn.Module module, Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var (_, p) in module.named_parameters())
        {
            if (p.dim() >= 2)
            {
                double bound = 1.0 / Math.Sqrt(p.numel() / p.shape[0]);
                p.copy_(rand(p.shape, generator: generator).mul_(2 * bound).sub_(bound));
            }
            else if (!(p.eq(1).all().item<bool>() || p.eq(0).all().item<bool>()))
            {
                p.copy_(rand(p.shape, generator: generator).mul_(0.1).sub_(0.05));
            }
        }
    }

    /// <summary>Runs <paramref name="use"/> on a temporary folder holding the small vocabulary's vocab.json and merges.txt.</summary>
    static T WithTokenizerFiles<T>(Func<string, T> use)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"fr-synthetic-tokenizer-{Guid.NewGuid():N}");
        try
        {
            var (vocab, merges) = ClipVocabularyBuilder.Train(Words.ToDictionary(w => w, _ => 1));
            ClipVocabularyBuilder.WriteFiles(folder, vocab, merges);
            return use(folder);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
