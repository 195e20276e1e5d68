using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;

namespace FineRewards.Server.Storage;

/// <summary>
/// The PNG text chunks of a candidate: "parameters" in AUTOMATIC1111's layout (prompt, a
/// "Negative prompt:" line, then "Key: value" pairs) which editors and image browsers parse, and
/// "finerewards" with the reward breakdown as JSON once the candidate is scored.
/// </summary>
public static class GenerationParameters
{
    public const string ParametersKey = "parameters";
    public const string BreakdownKey = "finerewards";

    /// <param name="loraHashes">The job's <see cref="LoraHashes"/>, computed once per job.</param>
    public static string Format(GenerationJobSpec spec, string jobId, int candidateIndex, long seed, IReadOnlyDictionary<string, string> provenance,
        string loraHashes)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder(spec.Prompt);
        if (spec.NegativePrompt.Length > 0) text.Append("\nNegative prompt: ").Append(spec.NegativePrompt);
        var pairs = new List<(string, string)>
        {
            ("Steps", spec.Steps.ToString(inv)),
            ("Sampler", spec.Sampler),
            ("CFG scale", spec.Guidance.ToString(inv)),
            ("Seed", seed.ToString(inv)),
            ("Size", $"{spec.Width}x{spec.Height}"),
            ("Model", spec.Pack),
        };
        if (spec.Loras.Count > 0) pairs.Add(("Lora hashes", Quote(loraHashes)));
        pairs.Add(("FineRewards job", jobId));
        pairs.Add(("Candidate", candidateIndex.ToString(inv)));
        foreach (var (key, value) in provenance.OrderBy(p => p.Key, StringComparer.Ordinal))
            pairs.Add(($"FineRewards {key}", Quote(value)));
        text.Append('\n').Append(string.Join(", ", pairs.Select(p => $"{p.Item1}: {p.Item2}")));
        return text.ToString();
    }

    /// <summary>
    /// "name: shorthash, ..." as AUTOMATIC1111 writes it (the scales are in the prompt there, not here):
    /// the name is the file's, the short hash the first 12 hex digits of the SHA-256 of a .safetensors
    /// file's bytes after its header (A1111's and kohya's "addnet" hash, which ignores metadata edits).
    /// </summary>
    public static string LoraHashes(IEnumerable<LoraReference> loras) =>
        string.Join(", ", loras.Select(l => $"{Path.GetFileNameWithoutExtension(l.Path)}: {ShortHash(l.Path)}"));

    static string ShortHash(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> size = stackalloc byte[8];
        // Not a plausible safetensors header: hash the whole file rather than fail a finished job over its metadata.
        long skip = file.Length >= 8 && file.ReadAtLeast(size, 8, throwOnEndOfStream: false) == 8
            && BinaryPrimitives.ReadUInt64LittleEndian(size) is var n && n <= (ulong)file.Length - 8 ? 8 + (long)n : 0;
        file.Position = skip;
        return Convert.ToHexStringLower(SHA256.HashData(file))[..12];
    }

    /// <summary>The reward breakdown of one candidate as compact JSON.</summary>
    public static string Breakdown(CandidateScoredEvent scored, string method) =>
        JsonSerializer.Serialize(new
        {
            method,
            total = scored.Total,
            rewards = scored.Rewards.Select(r => new { reward = r.Reward, score = r.Score, rank = r.Rank, caption = r.Caption, flags = r.Flags }),
        });

    // A1111 quotes values holding the separators it splits on.
    static string Quote(string value) =>
        value.IndexOfAny([',', ':', '\n', '"']) >= 0 ? JsonSerializer.Serialize(value) : value;
}
