using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Core.Training;

/// <summary>One image-prompt pair of an extra-data folder.</summary>
/// <param name="Name">The file stem: NAME.png and NAME.json.</param>
/// <param name="Latents">NAME.latents.safetensors when the image was generated (the latents it was decoded from).</param>
public sealed record ExtraPair(string Name, string Prompt, RgbImage Image, string Sha256, CandidateLatents? Latents = null)
{
    public TrainingPair ToTrainingPair() => new(Prompt, Image, Latents);
}

/// <summary>
/// Training pairs users accepted, as a folder: for each pair NAME.png (the image) and NAME.json
/// ({"prompt": "...", plus optional facts such as "source", "feedback_id", "profile_id"}), and for a
/// generated image optionally NAME.latents.safetensors (the latents it was decoded from). The host
/// exports a profile's accepted feedback this way and `finerewards train --extra-data DIR` reads it.
/// Pairs are read in ordinal order of NAME, so a folder always gives the same training set.
/// </summary>
public static class ExtraDataFolder
{
    public static IReadOnlyList<ExtraPair> Read(string folder, string field = "--extra-data")
    {
        if (!Directory.Exists(folder)) throw new InputException(field, $"folder {folder} does not exist");
        var pairs = new List<ExtraPair>();
        var jsons = Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).ToList();
        foreach (string png in Directory.GetFiles(folder, "*.png"))
            if (!File.Exists(Path.ChangeExtension(png, ".json")))
                throw new InputException(png, "has no NAME.json beside it with the prompt ({\"prompt\": \"...\"})");
        foreach (string json in jsons)
        {
            string png = Path.ChangeExtension(json, ".png");
            if (!File.Exists(png)) throw new InputException(json, $"has no image {Path.GetFileName(png)} beside it");
            JsonNode? node;
            try { node = JsonNode.Parse(File.ReadAllText(json)); }
            catch (JsonException e) { throw new InputException(json, $"not valid JSON ({e.Message})"); }
            if (node is not JsonObject obj || obj["prompt"] is not JsonValue v || !v.TryGetValue(out string? prompt) || string.IsNullOrWhiteSpace(prompt))
                throw new InputException($"{json}: prompt", "expected a non-empty string");
            byte[] bytes = File.ReadAllBytes(png);
            var image = PngCodec.Decode(bytes, png).Image;
            string latents = Path.Combine(folder, Path.GetFileNameWithoutExtension(json) + LatentFile.Extension);
            pairs.Add(new ExtraPair(Path.GetFileNameWithoutExtension(json), prompt.Trim(), image, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)),
                File.Exists(latents) ? LatentFile.Read(latents) : null));
        }
        if (pairs.Count == 0) throw new InputException(field, $"folder {folder} holds no pairs (NAME.png + NAME.json)");
        return pairs;
    }

    /// <summary>Writes one pair atomically: the PNG bytes as given, then the JSON that makes it visible to <see cref="Read"/>.</summary>
    public static void Write(string folder, string name, string prompt, ReadOnlySpan<byte> png, IReadOnlyDictionary<string, string>? facts = null,
        CandidateLatents? latents = null)
    {
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.StartsWith('.'))
            throw new ArgumentException($"\"{name}\" is not a plain file name", nameof(name));
        AtomicFile.WriteAllBytes(Path.Combine(folder, name + ".png"), png);
        if (latents is not null) LatentFile.Write(Path.Combine(folder, name + LatentFile.Extension), latents);
        var obj = new JsonObject { ["prompt"] = prompt };
        foreach (var (k, v) in facts ?? new Dictionary<string, string>()) obj[k] = v;
        AtomicFile.WriteAllText(Path.Combine(folder, name + ".json"), obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
