using System.Text.Json.Serialization;
using FineRewards.Contracts;
using FineRewards.Core.Training;

namespace FineRewards.Server.Training;

[JsonConverter(typeof(JsonStringEnumConverter<LoraVerdict>))]
public enum LoraVerdict { Raised, Unchanged, Lowered }

/// <summary>One reward's mean over the evaluation images of the base model and of the new LoRA.</summary>
public sealed record RewardChange(string Reward, double BaseMean, double NewMean)
{
    [JsonIgnore] public double Change => NewMean - BaseMean;
}

/// <summary>A new LoRA against the base model (<see cref="LoraGuard"/>).</summary>
/// <param name="Prompts">Prompts generated for, the probe prompts included.</param>
/// <param name="ProbePrompts">Of <paramref name="Prompts"/>, those taken from the pack's probes because the profile had too few.</param>
/// <param name="Images">Images per model.</param>
/// <param name="Activated">Whether the host made the LoRA its profile's active one on its own.</param>
public sealed record LoraEvaluation(IReadOnlyList<RewardChange> Rewards, LoraVerdict Verdict, int Prompts, int ProbePrompts, int Images, bool Activated = false)
{
    [JsonIgnore] public IEnumerable<string> LoweredRewards => Rewards.Where(r => r.Change < 0).Select(r => r.Reward);
}

/// <summary>
/// Guards a profile's users after a personalised round: the new LoRA and the base model draw the same prompts with the
/// same seeds, the job's rewards score both, and the LoRA may become active on its own only when no reward's mean fell
/// and one rose. Rewards have no common scale (ARL ranks them for that reason), so any reward falling counts against
/// it; the user sees the numbers and can still choose the LoRA.
/// </summary>
public static class LoraGuard
{
    /// <summary>Fewer profile prompts than this are topped up with the pack's probe prompts.</summary>
    public const int MinPrompts = 8;
    /// <summary>At most this many prompts are generated for, so the check stays a small part of a round.</summary>
    public const int MaxPrompts = 16;
    public const int CandidatesPerPrompt = 2;

    /// <summary>The profile's distinct prompts (at most <see cref="MaxPrompts"/>), topped up to <see cref="MinPrompts"/> with probes it lacks.</summary>
    public static (IReadOnlyList<string> Prompts, int Probes) Prompts(IReadOnlyList<string> profile, IReadOnlyList<string> probes)
    {
        var prompts = profile.Distinct(StringComparer.Ordinal).Take(MaxPrompts).ToList();
        int own = prompts.Count;
        foreach (var p in probes)
        {
            if (prompts.Count >= MinPrompts) break;
            if (!prompts.Contains(p, StringComparer.Ordinal)) prompts.Add(p);
        }
        return (prompts, prompts.Count - own);
    }

    /// <summary>Raised when no reward fell and one rose, lowered when one fell, else unchanged.</summary>
    public static LoraVerdict Judge(IReadOnlyList<RewardChange> changes) =>
        changes.Any(c => c.Change < 0) ? LoraVerdict.Lowered
        : changes.Any(c => c.Change > 0) ? LoraVerdict.Raised
        : LoraVerdict.Unchanged;

    /// <param name="seed">The job's seed; prompt p's candidates use <see cref="RunSeeds.Derive"/>(seed, "guard", 0, p) + i for both models.</param>
    public static LoraEvaluation Evaluate(IImageGenerator generator, IReadOnlyList<IReward> rewards, IReadOnlyList<string> profilePrompts,
        IReadOnlyList<string> probes, GenerationSettings g, long seed, string loraPath, Action<int, int> progress, CancellationToken cancellationToken)
    {
        var (prompts, probeCount) = Prompts(profilePrompts, probes);
        if (prompts.Count == 0) return new LoraEvaluation([], LoraVerdict.Unchanged, 0, 0, 0);
        var sums = rewards.ToDictionary(r => r.Name, _ => (Base: 0.0, New: 0.0));
        var lora = new[] { new LoraReference(loraPath) };
        int images = 0;
        progress(0, prompts.Count);
        for (int p = 0; p < prompts.Count; p++)
        {
            long baseSeed = RunSeeds.Derive(seed, "guard", 0, p);
            var request = new GenerationRequest(prompts[p], CandidatesPerPrompt, baseSeed, g.NegativePrompt, g.Sampler, g.Steps, g.Guidance, g.Width, g.Height);
            var before = Images(generator.Generate(request, null, cancellationToken));
            var after = Images(generator.Generate(request with { Loras = lora }, null, cancellationToken));
            foreach (var r in rewards)
            {
                double b = r.Score(prompts[p], before, cancellationToken).Sum(s => s.Score);
                double n = r.Score(prompts[p], after, cancellationToken).Sum(s => s.Score);
                sums[r.Name] = (sums[r.Name].Base + b, sums[r.Name].New + n);
            }
            images += before.Count;
            progress(p + 1, prompts.Count);
        }
        var changes = rewards.Select(r => new RewardChange(r.Name, sums[r.Name].Base / images, sums[r.Name].New / images)).ToList();
        return new LoraEvaluation(changes, Judge(changes), prompts.Count, probeCount, images);
    }

    static List<RgbImage> Images(IReadOnlyList<GeneratedCandidate> candidates) => candidates.OrderBy(c => c.Index).Select(c => c.Image).ToList();
}
