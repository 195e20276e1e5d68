using System.Security.Cryptography;
using FineRewards.Contracts;
using System.Text;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Diffusion.Models;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>
/// The files of a whole diffusers Stable Diffusion folder (<c>model_index.json</c> + <c>unet/</c>,
/// <c>vae/</c>, <c>text_encoder/</c>, <c>tokenizer/</c>, <c>scheduler/</c>), checked before anything
/// is loaded so one error lists every missing part.
/// </summary>
public sealed record StableDiffusionFolder(
    string Root,
    string UnetFolder,
    string VaeFolder,
    string TextEncoderFolder,
    string TextEncoderWeights,
    string TokenizerFolder,
    string SchedulerConfigPath)
{
    public const string ModelIndexName = "model_index.json";

    /// <summary>The components a folder must have and the classes model_index.json may name for them.</summary>
    static readonly (string Name, string[] Classes)[] Components =
    [
        ("unet", ["UNet2DConditionModel"]),
        ("vae", ["AutoencoderKL"]),
        ("text_encoder", ["CLIPTextModel"]),
        ("tokenizer", ["CLIPTokenizer", "CLIPTokenizerFast"]),
        ("scheduler", []),   // any class: only the SD schedule fields of its config are used
    ];

    static readonly string[] TextEncoderWeightNames = ["model.safetensors", "model.fp16.safetensors"];

    /// <summary>Checks the folder's layout; an <see cref="InputException"/> lists every missing or wrong part.</summary>
    public static StableDiffusionFolder Resolve(string root)
    {
        if (!Directory.Exists(root)) throw new InputException(root, "model folder does not exist (expected a diffusers folder with model_index.json)");
        var indexPath = Path.Combine(root, ModelIndexName);
        if (!File.Exists(indexPath)) throw new InputException(indexPath, "not found: a diffusers model folder starts with model_index.json");

        var problems = new List<string>();
        using (var index = ParseIndex(indexPath))
        {
            foreach (var (name, classes) in Components)
            {
                if (!index.RootElement.TryGetProperty(name, out var entry))
                {
                    problems.Add($"{ModelIndexName} has no \"{name}\" entry");
                    continue;
                }
                // diffusers writes ["library", "ClassName"].
                string? cls = entry.ValueKind == JsonValueKind.Array && entry.GetArrayLength() == 2 && entry[1].ValueKind == JsonValueKind.String
                    ? entry[1].GetString() : null;
                if (cls is null) problems.Add($"{ModelIndexName}: \"{name}\" should be [library, class], found {entry.GetRawText()}");
                else if (classes.Length > 0 && !classes.Contains(cls))
                    problems.Add($"{ModelIndexName}: \"{name}\" is {cls}; supported: {string.Join(", ", classes)}");
            }
        }

        string Folder(string name)
        {
            var path = Path.Combine(root, name);
            if (!Directory.Exists(path)) problems.Add($"{name}/ folder is missing");
            return path;
        }
        void RequireFile(string path, string what)
        {
            if (Directory.Exists(Path.GetDirectoryName(path)) && !File.Exists(path)) problems.Add($"{Path.GetRelativePath(root, path)} is missing ({what})");
        }

        var unet = Folder("unet");
        var vae = Folder("vae");
        foreach (var component in new[] { unet, vae })
        {
            if (!Directory.Exists(component)) continue;
            RequireFile(Path.Combine(component, "config.json"), "the component's config");
            if (!DiffusersFolder.WeightNames.Any(n => File.Exists(Path.Combine(component, n))))
                problems.Add($"{Path.GetFileName(component)}/ has no weights ({string.Join(" or ", DiffusersFolder.WeightNames)})");
        }
        var text = Folder("text_encoder");
        RequireFile(Path.Combine(text, "config.json"), "the CLIPTextConfig");
        var textWeights = TextEncoderWeightNames.Select(n => Path.Combine(text, n)).FirstOrDefault(File.Exists) ?? Path.Combine(text, TextEncoderWeightNames[0]);
        if (Directory.Exists(text) && !File.Exists(textWeights))
            problems.Add($"text_encoder/ has no weights ({string.Join(" or ", TextEncoderWeightNames)})");
        var tokenizer = Folder("tokenizer");
        RequireFile(Path.Combine(tokenizer, "vocab.json"), "the BPE vocabulary");
        RequireFile(Path.Combine(tokenizer, "merges.txt"), "the BPE merges");
        var scheduler = Path.Combine(Folder("scheduler"), "scheduler_config.json");
        RequireFile(scheduler, "the noise schedule");

        if (problems.Count > 0) throw new InputException(root, "not a loadable Stable Diffusion folder: " + string.Join("; ", problems));
        return new StableDiffusionFolder(Path.GetFullPath(root), unet, vae, text, textWeights, tokenizer, scheduler);
    }

    /// <summary>Every file the model's outputs depend on (configs, weights, tokenizer), relative to the root.</summary>
    public IReadOnlyList<string> ContentFiles()
    {
        var files = new List<string> { Path.Combine(Root, ModelIndexName), SchedulerConfigPath, TextEncoderWeights,
            Path.Combine(TextEncoderFolder, "config.json") };
        foreach (var component in new[] { UnetFolder, VaeFolder })
        {
            var (config, weights) = DiffusersFolder.Resolve(component);
            files.Add(config);
            files.Add(weights);
        }
        files.AddRange(Directory.GetFiles(TokenizerFolder).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".txt", StringComparison.Ordinal)));
        return files.Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// SHA-256 over the sorted "relative path  sha256" lines of <see cref="ContentFiles"/>: changes whenever
    /// any weight, config or vocabulary changes. Reads every byte (a few seconds for SD 1.5's ~4 GB).
    /// </summary>
    public string ContentHash()
    {
        var lines = new StringBuilder();
        foreach (var relative in ContentFiles())
            lines.Append(relative).Append("  ").Append(Sha256OfFile(Path.Combine(Root, relative))).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines.ToString())));
    }

    public static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static JsonDocument ParseIndex(string path)
    {
        try
        {
            var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new InputException(path, "expected a JSON object");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not valid JSON ({e.Message})");
        }
    }
}
