using System.Globalization;
using System.Text;
using System.Text.Json;
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

    public static string Format(GenerationJobSpec spec, string jobId, int candidateIndex, long seed, IReadOnlyDictionary<string, string> provenance)
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
        if (spec.Loras.Count > 0)
            pairs.Add(("Lora hashes", Quote(string.Join(", ", spec.Loras.Select(l => $"{Path.GetFileNameWithoutExtension(l.Path)}: {l.Scale.ToString(inv)}")))));
        pairs.Add(("FineRewards job", jobId));
        pairs.Add(("Candidate", candidateIndex.ToString(inv)));
        foreach (var (key, value) in provenance.OrderBy(p => p.Key, StringComparer.Ordinal))
            pairs.Add(($"FineRewards {key}", Quote(value)));
        text.Append('\n').Append(string.Join(", ", pairs.Select(p => $"{p.Item1}: {p.Item2}")));
        return text.ToString();
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
