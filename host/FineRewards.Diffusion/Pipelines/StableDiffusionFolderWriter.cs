using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>
/// The one writer of diffusers folders: a whole Stable Diffusion folder that <see cref="StableDiffusionPipeline.FromDiffusersFolder"/>
/// (and diffusers itself) loads (<see cref="Write"/>: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/,
/// assembled under a temporary name and renamed into place, so a reader never sees half of it), and the parts a trainer
/// writes one at a time (a component's config and weights, the scheduler, the model index; the Shapes pack's trainers).
/// </summary>
public static class StableDiffusionFolderWriter
{
    /// <summary>The diffusers version the written files name.</summary>
    public const string DiffusersVersion = "0.30.0";

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
            WriteComponent(Path.Combine(temp, "unet"), ConfigNode(unet.Config with { ClassName = "UNet2DConditionModel" }), unet, DiffusersFolder.WeightNames[0], half: false);
            WriteComponent(Path.Combine(temp, "vae"), ConfigNode(vae.Config with { ClassName = "AutoencoderKL" }), vae, DiffusersFolder.WeightNames[0], half: false);
            WriteComponent(Path.Combine(temp, "text_encoder"), TextEncoderConfig(textEncoder.Config), textEncoder, "model.safetensors", half: false);

            Directory.CreateDirectory(Path.Combine(temp, "tokenizer"));
            foreach (var name in new[] { "vocab.json", "merges.txt" })
                File.Copy(Path.Combine(tokenizerFolder, name), Path.Combine(temp, "tokenizer", name));
            WriteJson(Path.Combine(temp, "tokenizer", "tokenizer_config.json"), new JsonObject
            {
                ["tokenizer_class"] = "CLIPTokenizer",
                ["model_max_length"] = modelMaxLength ?? textEncoder.Config.MaxPositionEmbeddings,
                ["pad_token"] = padToken,
                ["bos_token"] = "<|startoftext|>",
                ["eos_token"] = "<|endoftext|>",
                ["unk_token"] = "<|endoftext|>",
            });
            WriteScheduler(temp, scheduler);
            WriteModelIndex(temp);

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
    /// A config record as JSON with only its file keys (the records' computed helpers, e.g. DownsampleFactor or HeadDim,
    /// serialise under C# names, which diffusers' snake_case files never have), plus <paramref name="extra"/> keys.
    /// </summary>
    public static JsonObject ConfigNode(object value, IReadOnlyDictionary<string, JsonNode?>? extra = null)
    {
        var node = value as JsonObject ?? JsonSerializer.SerializeToNode(value, value.GetType(), ConfigJson.Options)!.AsObject();
        foreach (var key in node.Select(p => p.Key).Where(k => k.Any(char.IsUpper)).ToList()) node.Remove(key);
        if (extra is not null)
            foreach (var (k, v) in extra) node[k] = v?.DeepClone();
        return node;
    }

    /// <summary>The text encoder's config.json as transformers writes it for CLIPTextModel, plus <paramref name="extra"/> keys.</summary>
    public static JsonObject TextEncoderConfig(ClipTextConfig config, IReadOnlyDictionary<string, JsonNode?>? extra = null)
    {
        var node = ConfigNode(config, extra);
        node["architectures"] = new JsonArray("CLIPTextModel");
        node["model_type"] = "clip_text_model";
        return node;
    }

    /// <summary>One component folder: config.json and the module's state dict as .safetensors under its diffusers names (fp16 when <paramref name="half"/>, else as held).</summary>
    public static void WriteComponent(string folder, JsonObject config, nn.Module module, string weightsName, bool half)
    {
        Directory.CreateDirectory(folder);
        WriteJson(Path.Combine(folder, "config.json"), config);
        using var scope = NewDisposeScope();
        var tensors = module.state_dict().ToDictionary(kv => kv.Key, kv => half ? kv.Value.detach().to_type(ScalarType.Float16) : kv.Value.detach());
        SafetensorsFile.Write(Path.Combine(folder, weightsName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>scheduler/scheduler_config.json for the DDIM scheduler diffusers loads it as.</summary>
    public static void WriteScheduler(string folder, SchedulerConfig scheduler)
    {
        var node = ConfigNode(scheduler, new Dictionary<string, JsonNode?> { ["_class_name"] = "DDIMScheduler", ["_diffusers_version"] = DiffusersVersion });
        node.Remove("trained_betas");
        WriteJson(Path.Combine(folder, "scheduler", "scheduler_config.json"), node);
    }

    /// <summary>model_index.json of a StableDiffusionPipeline without safety checker.</summary>
    public static void WriteModelIndex(string folder) =>
        WriteJson(Path.Combine(folder, StableDiffusionFolder.ModelIndexName), new JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline",
            ["_diffusers_version"] = DiffusersVersion,
            ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
            ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
            ["safety_checker"] = new JsonArray(null, null),
            ["feature_extractor"] = new JsonArray(null, null),
            ["requires_safety_checker"] = false,
        });

    /// <summary>Indented JSON with a final newline, through a temporary file; creates the folder.</summary>
    public static void WriteJson(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
