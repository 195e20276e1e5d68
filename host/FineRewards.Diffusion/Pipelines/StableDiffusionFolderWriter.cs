using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>
/// Writes models as a diffusers Stable Diffusion folder that <see cref="StableDiffusionPipeline.FromDiffusersFolder"/>
/// (and diffusers itself) loads: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/.
/// The folder is assembled under a temporary name and renamed into place, so a reader never sees half of it.
/// </summary>
public static class StableDiffusionFolderWriter
{
    /// <param name="tokenizerFolder">A folder with vocab.json and merges.txt (e.g. from ClipVocabularyBuilder.WriteFiles); tokenizer_config.json is written.</param>
    /// <param name="padToken">The tokenizer's padding token (SD 1.x: &lt;|endoftext|&gt;).</param>
    /// <param name="modelMaxLength">Token sequence length (default: the text encoder's max_position_embeddings, 77 for CLIP).</param>
    public static void Write(string folder, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel textEncoder,
        string tokenizerFolder, SchedulerConfig scheduler, string padToken = "<|endoftext|>", int? modelMaxLength = null)
    {
        foreach (var name in new[] { "vocab.json", "merges.txt" })
            if (!File.Exists(Path.Combine(tokenizerFolder, name))) throw new InputException(tokenizerFolder, $"has no {name}");
        var full = Path.GetFullPath(folder);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new InputException(folder, "already exists and is not empty; choose a new folder");
        var temp = full.TrimEnd(Path.DirectorySeparatorChar) + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try
        {
            var options = new JsonSerializerOptions(ConfigJson.Options) { WriteIndented = true };
            void Json(string relative, object value) =>
                AtomicFile.WriteAllText(Path.Combine(temp, relative), ConfigNode(value, options).ToJsonString(options));

            Directory.CreateDirectory(Path.Combine(temp, "unet"));
            Json("unet/config.json", unet.Config with { ClassName = "UNet2DConditionModel" });
            Weights(unet, Path.Combine(temp, "unet", DiffusersFolder.WeightNames[0]));

            Directory.CreateDirectory(Path.Combine(temp, "vae"));
            Json("vae/config.json", vae.Config with { ClassName = "AutoencoderKL" });
            Weights(vae, Path.Combine(temp, "vae", DiffusersFolder.WeightNames[0]));

            Directory.CreateDirectory(Path.Combine(temp, "text_encoder"));
            var textConfig = ConfigNode(textEncoder.Config, options);
            textConfig["architectures"] = new JsonArray("CLIPTextModel");
            textConfig["model_type"] = "clip_text_model";
            AtomicFile.WriteAllText(Path.Combine(temp, "text_encoder", "config.json"), textConfig.ToJsonString(options));
            Weights(textEncoder, Path.Combine(temp, "text_encoder", "model.safetensors"));

            Directory.CreateDirectory(Path.Combine(temp, "tokenizer"));
            foreach (var name in new[] { "vocab.json", "merges.txt" })
                File.Copy(Path.Combine(tokenizerFolder, name), Path.Combine(temp, "tokenizer", name));
            Json("tokenizer/tokenizer_config.json", new JsonObject
            {
                ["tokenizer_class"] = "CLIPTokenizer",
                ["model_max_length"] = modelMaxLength ?? textEncoder.Config.MaxPositionEmbeddings,
                ["pad_token"] = padToken,
                ["bos_token"] = "<|startoftext|>",
                ["eos_token"] = "<|endoftext|>",
                ["unk_token"] = "<|endoftext|>",
            });

            Directory.CreateDirectory(Path.Combine(temp, "scheduler"));
            var schedulerJson = ConfigNode(scheduler, options);
            schedulerJson.Remove("trained_betas");
            schedulerJson["_class_name"] = "DDIMScheduler";
            AtomicFile.WriteAllText(Path.Combine(temp, "scheduler", "scheduler_config.json"), schedulerJson.ToJsonString(options));

            Json(StableDiffusionFolder.ModelIndexName, new JsonObject
            {
                ["_class_name"] = "StableDiffusionPipeline",
                ["_diffusers_version"] = "0.27.2",
                ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
                ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
                ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
                ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
                ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
                ["safety_checker"] = new JsonArray(null, null),
                ["feature_extractor"] = new JsonArray(null, null),
                ["requires_safety_checker"] = false,
            });

            if (Directory.Exists(full)) Directory.Delete(full);
            Directory.Move(temp, full);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// A config record as JSON with only its file keys: the records' computed helpers (e.g. DownsampleFactor)
    /// serialise under C# names, which diffusers' snake_case files never have.
    /// </summary>
    internal static JsonObject ConfigNode(object value, JsonSerializerOptions options)
    {
        var node = value as JsonObject ?? JsonSerializer.SerializeToNode(value, value.GetType(), options)!.AsObject();
        foreach (var key in node.Select(p => p.Key).Where(k => k.Any(char.IsUpper)).ToList()) node.Remove(key);
        return node;
    }

    /// <summary>The module's state dict as float32 .safetensors under its diffusers parameter names.</summary>
    static void Weights(nn.Module module, string path)
    {
        var state = module.state_dict();
        SafetensorsFile.Write(path, state.ToDictionary(kv => kv.Key, kv => kv.Value), new Dictionary<string, string> { ["format"] = "pt" });
    }
}
