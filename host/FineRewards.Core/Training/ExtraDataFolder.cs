using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Core.Training;

/// <summary>One image-prompt pair of an extra-data folder.</summary>
/// <param name="Name">The file stem: NAME.png and NAME.json.</param>
/// <param name="Latents">NAME.latents.safetensors when the image was generated (the latents it was decoded from).</param>
/// <param name="Rejected">The image the user turned down for the same prompt (NAME.json's "rejected"), which the preference
/// objective learns to make less likely than <paramref name="Image"/>; null when the pair has none.</param>
public sealed record ExtraPair(string Name, string Prompt, RgbImage Image, string Sha256, CandidateLatents? Latents = null, TrainingImage? Rejected = null)
{
    /// <param name="preference">Keep <see cref="Rejected"/> (the preference objective); the denoising objective learns the image alone.</param>
    public TrainingPair ToTrainingPair(bool preference = false) => new(Prompt, Image, Latents, preference ? Rejected : null);
}

/// <summary>
/// Training pairs users accepted, as a folder: for each pair NAME.png (the image) and NAME.json
/// ({"prompt": "...", plus optional facts such as "source", "feedback_id", "profile_id"}), and for a
/// generated image optionally NAME.latents.safetensors (the latents it was decoded from). A pair may
/// also name an image of the same prompt that was turned down, {"rejected": "NAME.rejected.png"} (with
/// its NAME.rejected.latents.safetensors when generated): the preference objective's other half. The host
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
            if (!File.Exists(Path.ChangeExtension(png, ".json")) && !png.EndsWith(RejectedSuffix + ".png", StringComparison.Ordinal))
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
                File.Exists(latents) ? LatentFile.Read(latents) : null, ReadRejected(folder, json, obj)));
        }
        if (pairs.Count == 0) throw new InputException(field, $"folder {folder} holds no pairs (NAME.png + NAME.json)");
        return pairs;
    }

    /// <summary>The stem suffix of a pair's rejected image: NAME.rejected.png.</summary>
    public const string RejectedSuffix = ".rejected";

    static TrainingImage? ReadRejected(string folder, string json, JsonObject obj)
    {
        if (obj["rejected"] is null) return null;
        if (obj["rejected"] is not JsonValue v || !v.TryGetValue(out string? file) || !file.EndsWith(RejectedSuffix + ".png", StringComparison.Ordinal)
            || file.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new InputException($"{json}: rejected", $"expected the file name of an image beside it, NAME{RejectedSuffix}.png");
        string png = Path.Combine(folder, file);
        if (!File.Exists(png)) throw new InputException($"{json}: rejected", $"{file} does not exist in {folder}");
        string latents = Path.Combine(folder, Path.GetFileNameWithoutExtension(file) + LatentFile.Extension);
        return new TrainingImage(PngCodec.Decode(File.ReadAllBytes(png), png).Image, File.Exists(latents) ? LatentFile.Read(latents) : null);
    }

    /// <summary>Writes one pair atomically: the PNG bytes as given (and the rejected image's), then the JSON that makes it visible to <see cref="Read"/>.</summary>
    /// <param name="rejected">An image of the same prompt that was turned down, as PNG bytes with its latents when generated: the preference objective's other half.</param>
    public static void Write(string folder, string name, string prompt, ReadOnlySpan<byte> png, IReadOnlyDictionary<string, string>? facts = null,
        CandidateLatents? latents = null, (byte[] Png, CandidateLatents? Latents)? rejected = null)
    {
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.StartsWith('.'))
            throw new ArgumentException($"\"{name}\" is not a plain file name", nameof(name));
        AtomicFile.WriteAllBytes(Path.Combine(folder, name + ".png"), png);
        if (latents is not null) LatentFile.Write(Path.Combine(folder, name + LatentFile.Extension), latents);
        var obj = new JsonObject { ["prompt"] = prompt };
        if (rejected is var (rejectedPng, rejectedLatents))
        {
            string stem = name + RejectedSuffix;
            AtomicFile.WriteAllBytes(Path.Combine(folder, stem + ".png"), rejectedPng);
            if (rejectedLatents is not null) LatentFile.Write(Path.Combine(folder, stem + LatentFile.Extension), rejectedLatents);
            obj["rejected"] = stem + ".png";
        }
        foreach (var (k, v) in facts ?? new Dictionary<string, string>()) obj[k] = v;
        AtomicFile.WriteAllText(Path.Combine(folder, name + ".json"), obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
