using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Tokenizer;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Checkpoints;

/// <summary>A text-to-image pipeline from a single-file checkpoint, or from either form of model a user has.</summary>
public static class SingleFilePipeline
{
    /// <summary>Where the bundled CLIP BPE files are copied (next to the executable).</summary>
    public static string TokenizerFolder => Path.Combine(AppContext.BaseDirectory, "tokenizers", "clip-vit-large-patch14");

    /// <summary>
    /// The CLIP tokenizer both families were trained with (single files carry none). SD 1.x pads with
    /// &lt;|endoftext|&gt; (transformers' CLIPTokenizer), SD 2.x with "!" (id 0), as their tokenizer configs say.
    /// </summary>
    public static ClipTokenizer DefaultTokenizer(SdFamily family) =>
        ClipTokenizer.FromFiles(Path.Combine(TokenizerFolder, "vocab.json"), Path.Combine(TokenizerFolder, "merges.txt"),
            family == SdFamily.Sd1 ? ClipTokenizer.EndOfText : "!");

    /// <summary>Loads a single file as a pipeline; the scheduler is SD's (scaled-linear betas, 1000 steps) with the config's prediction type.</summary>
    /// <param name="tokenizer">Replaces the bundled CLIP tokenizer (e.g. for a test model with a small vocabulary).</param>
    public static StableDiffusionPipeline Load(string path, SingleFileConfig? config = null, PipelineOptions? options = null,
        Device? device = null, ScalarType? dtype = null, ClipTokenizer? tokenizer = null)
    {
        var models = SingleFileCheckpoint.Load(path, config, device, dtype);
        try
        {
            tokenizer ??= DefaultTokenizer(models.Architecture.Family);
            var scheduler = SchedulerConfig.StableDiffusion with { PredictionType = models.Architecture.PredictionType };
            string full = Path.GetFullPath(path);
            return new StableDiffusionPipeline(tokenizer, models.TextEncoder, models.Unet, models.Vae, scheduler,
                Path.GetFileNameWithoutExtension(path), () => StableDiffusionFolder.Sha256OfFile(full), options);
        }
        catch
        {
            models.Dispose();
            throw;
        }
    }

    /// <summary>A single .safetensors file or a diffusers folder, whichever <paramref name="path"/> is.</summary>
    /// <param name="config">For a single file: what its tensors do not say (prediction type, heads, ...); a folder has its own configs.</param>
    public static StableDiffusionPipeline LoadFileOrFolder(string path, SingleFileConfig? config = null, PipelineOptions? options = null, Device? device = null)
        => SingleFileCheckpoint.IsSingleFile(path)
            ? Load(path, config, options, device)
            : StableDiffusionPipeline.FromDiffusersFolder(path, options, device);
}
