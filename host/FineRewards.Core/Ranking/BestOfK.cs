using System.Globalization;
using FineRewards.Contracts;
using FineRewards.Core.Training;

namespace FineRewards.Core.Ranking;

/// <summary>One candidate of a best-of-K: the id it is ranked under, its image, each reward's score with the
/// evidence behind it, and what generated it (null when the image came from a file).</summary>
public sealed record ScoredCandidate(string Id, RgbImage Image, IReadOnlyDictionary<string, RewardScore> Scores, GeneratedCandidate? Generated = null)
{
    public CandidateScores ToRankingInput() => new(Id, Scores.ToDictionary(s => s.Key, s => s.Value.Score));
}

/// <param name="Candidates">In candidate order (not ranked order).</param>
/// <param name="Ranking">Null when no reward was asked for, or no ranking (<see cref="BestOfK.Run"/> without settings).</param>
public sealed record BestOfKResult(string Prompt, IReadOnlyList<ScoredCandidate> Candidates, RankingResult? Ranking)
{
    /// <summary>1 for the selected candidate, 2 for the next; 0 when unranked.</summary>
    public int Place(string id) => Ranking is null ? 0 : Ranking.Order.ToList().IndexOf(id) + 1;

    public bool IsSelected(string id) => Ranking?.Selected == id;
}

/// <param name="Weights">Per-reward weights of the combination; null: all 1.</param>
/// <param name="Field">Prefix of ranking errors, e.g. "rounds[1].prompts[2].candidates".</param>
/// <param name="Id">The id candidate i is ranked under; default its index ("0", "1", ...).</param>
public sealed record BestOfKSettings(
    CombineMethod Combine,
    IReadOnlyDictionary<string, double>? Weights = null,
    string Field = "candidates",
    Func<int, string>? Id = null)
{
    public string IdOf(int index) => Id?.Invoke(index) ?? index.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// A caller's own concerns around <see cref="BestOfK.Run"/>, each optional and called on the run's thread in this
/// order: generation progress, <see cref="Generated"/>, <see cref="Include"/>, <see cref="RewardScored"/> per reward,
/// <see cref="BeforeRanking"/>.
/// </summary>
public sealed class BestOfKHooks
{
    public static readonly BestOfKHooks None = new();

    /// <summary>The candidate indices to generate (ascending); null: all K. The others are skipped and keep their seeds' places.</summary>
    public IReadOnlyList<int>? Wanted { get; init; }

    /// <summary>Sampler steps and candidates done, as the generator reports them (renumbered to the whole request).</summary>
    public IProgress<GenerationProgress>? Progress { get; init; }

    /// <summary>After generation, before any reward runs: where a caller stores images, writes files or sends events.</summary>
    public Action<IReadOnlyList<GeneratedCandidate>>? Generated { get; init; }

    /// <summary>Which generated candidates to score (default all), asked once per candidate after <see cref="Generated"/>.</summary>
    public Func<GeneratedCandidate, bool>? Include { get; init; }

    /// <summary>After each reward scored every candidate: its name, rewards done, rewards in all.</summary>
    public Action<string, int, int>? RewardScored { get; init; }

    /// <summary>After scoring (only when there are rewards), before ranking: the candidates to rank (default all scored).
    /// Where a caller waits for its own writes and drops candidates it was told to skip while the rewards ran.</summary>
    public Func<IReadOnlyList<ScoredCandidate>, IReadOnlyList<ScoredCandidate>>? BeforeRanking { get; init; }
}

/// <summary>
/// Best-of-K, the step every feature is built on: generate K candidates of a prompt (candidate i with seed
/// base + i), score each under every reward with its evidence, rank them (<see cref="CandidateRanker"/>).
/// The host's jobs, the round engine, eval, score and the demo all run it; what each does around it (events,
/// storage, skips, run files, progress) goes in through <see cref="BestOfKHooks"/>. A step can also be called
/// alone where a caller runs them apart (the round engine scores from files in a later, resumable phase).
/// </summary>
public static class BestOfK
{
    /// <summary>The generation request of K candidates of <paramref name="prompt"/> with a pack's settings.</summary>
    public static GenerationRequest Request(GenerationSettings g, string prompt, int k, long baseSeed, IReadOnlyList<LoraReference>? loras = null) =>
        new(prompt, k, baseSeed, g.NegativePrompt, g.Sampler, g.Steps, g.Guidance, g.Width, g.Height, loras);

    /// <summary>Generates, scores and ranks (ranking skipped when <paramref name="settings"/> is null or there are no rewards).</summary>
    /// <exception cref="OperationCanceledException">Cancelled between steps or inside a model.</exception>
    /// <exception cref="InvalidOperationException">A generator or reward broke its contract (wrong count or indices).</exception>
    public static BestOfKResult Run(IImageGenerator generator, IReadOnlyList<IReward> rewards, GenerationRequest request, BestOfKSettings? settings,
        BestOfKHooks? hooks = null, CancellationToken cancellationToken = default)
    {
        hooks ??= BestOfKHooks.None;
        var generated = Generate(generator, request, hooks.Wanted, hooks.Progress, cancellationToken);
        hooks.Generated?.Invoke(generated);
        var scoring = hooks.Include is null ? generated : generated.Where(hooks.Include).ToList();
        string Id(int index) => settings?.IdOf(index) ?? index.ToString(CultureInfo.InvariantCulture);
        var scored = Score(Named(rewards), request.Prompt, scoring.Select(c => (Id(c.Index), c.Image, (GeneratedCandidate?)c)).ToList(),
            hooks.RewardScored, cancellationToken);
        if (rewards.Count == 0 || settings is null) return new BestOfKResult(request.Prompt, scored, null);
        var ranked = hooks.BeforeRanking?.Invoke(scored) ?? scored;
        return Rank(request.Prompt, ranked, settings);
    }

    /// <summary>Scores and ranks images that already exist (files a user gives to `score`).</summary>
    public static BestOfKResult ScoreAndRank(IReadOnlyList<(string Name, IReward Reward)> rewards, string prompt,
        IReadOnlyList<(string Id, RgbImage Image)> candidates, BestOfKSettings settings, CancellationToken cancellationToken = default) =>
        Rank(prompt, Score(rewards, prompt, candidates.Select(c => (c.Id, c.Image, (GeneratedCandidate?)null)).ToList(), null, cancellationToken), settings);

    /// <summary>
    /// The candidates in <paramref name="wanted"/> (null: all K), by index. All K: one call (the generator batches
    /// them). Fewer: one call per run of consecutive indices, so candidate i keeps its seed base + i; provenance
    /// gets the request's k, base seed and index back.
    /// </summary>
    public static IReadOnlyList<GeneratedCandidate> Generate(IImageGenerator generator, GenerationRequest request, IReadOnlyList<int>? wanted = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        wanted ??= Enumerable.Range(0, request.K).ToList();
        List<GeneratedCandidate> result;
        if (wanted.Count == request.K) result = generator.Generate(request, progress, cancellationToken).OrderBy(c => c.Index).ToList();
        else
        {
            result = new List<GeneratedCandidate>(wanted.Count);
            for (int at = 0; at < wanted.Count;)
            {
                int first = wanted[at], length = 1;
                while (at + length < wanted.Count && wanted[at + length] == first + length) length++;
                var part = generator.Generate(request with { K = length, BaseSeed = request.BaseSeed + first },
                    progress is null ? null : new OffsetProgress(progress, result.Count, wanted.Count), cancellationToken);
                result.AddRange(part.OrderBy(c => c.Index).Select(c => c with { Index = first + c.Index, Provenance = Renumbered(c.Provenance, request, first + c.Index) }));
                at += length;
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (!result.Select(c => c.Index).SequenceEqual(wanted))
            throw new InvalidOperationException($"generator {generator.Name} returned candidates {string.Join(",", result.Select(c => c.Index))} for {string.Join(",", wanted)} (K={request.K})");
        return result;
    }

    /// <summary>Each candidate under each reward, rewards in the order given; all candidates of a reward in one call (one batch).</summary>
    /// <param name="rewardScored">After each reward: its name, rewards done, rewards in all.</param>
    public static IReadOnlyList<ScoredCandidate> Score(IReadOnlyList<(string Name, IReward Reward)> rewards, string prompt,
        IReadOnlyList<(string Id, RgbImage Image, GeneratedCandidate? Generated)> candidates, Action<string, int, int>? rewardScored = null,
        CancellationToken cancellationToken = default)
    {
        var images = candidates.Select(c => c.Image).ToList();
        var byReward = new List<IReadOnlyList<RewardScore>>(rewards.Count);
        foreach (var (name, reward) in rewards)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var scores = reward.Score(prompt, images, cancellationToken);
            if (scores.Count != images.Count) throw new InvalidOperationException($"reward {name} returned {scores.Count} scores for {images.Count} images");
            byReward.Add(scores);
            rewardScored?.Invoke(name, byReward.Count, rewards.Count);
        }
        return candidates.Select((c, i) => new ScoredCandidate(c.Id, c.Image,
            Enumerable.Range(0, rewards.Count).ToDictionary(r => rewards[r].Name, r => byReward[r][i]), c.Generated)).ToList();
    }

    /// <summary>Ranks scored candidates under the settings' combination.</summary>
    public static BestOfKResult Rank(string prompt, IReadOnlyList<ScoredCandidate> candidates, BestOfKSettings settings) =>
        new(prompt, candidates, CandidateRanker.Rank(candidates.Select(c => c.ToRankingInput()).ToList(), settings.Combine, settings.Weights, settings.Field));

    /// <summary>Rewards under their own names.</summary>
    public static IReadOnlyList<(string Name, IReward Reward)> Named(IReadOnlyList<IReward> rewards) => rewards.Select(r => (r.Name, r)).ToList();

    /// <summary>The generator saw a run of the request as its own request; its provenance says so where it records k, base seed and index.</summary>
    static IReadOnlyDictionary<string, string> Renumbered(IReadOnlyDictionary<string, string> provenance, GenerationRequest whole, int index)
    {
        var fixedUp = new Dictionary<string, string>(provenance);
        void Set(string key, long value) { if (fixedUp.ContainsKey(key)) fixedUp[key] = value.ToString(CultureInfo.InvariantCulture); }
        Set("k", whole.K);
        Set("base_seed", whole.BaseSeed);
        Set("candidate_index", index);
        return fixedUp;
    }

    /// <summary>Progress of one run of candidates as progress of the whole request.</summary>
    sealed class OffsetProgress(IProgress<GenerationProgress> inner, int doneBefore, int total) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => inner.Report(value with { CandidatesDone = doneBefore + value.CandidatesDone, Candidates = total });
    }
}
