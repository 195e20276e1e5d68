using FineRewards.Contracts;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// Why a candidate ranked where it did, in words: the rule of the job's method, which rewards told
/// the candidates apart at all, and what separated it from its neighbour in the order.
/// </summary>
public static class RankingExplanation
{
    /// <summary>The method's rule: what the total is and which way is better.</summary>
    public static string Rule(JobView job) => job.Method switch
    {
        null or "arl" => "ARL: the total is the sum of the candidate's per-reward ranks; the lower rank sum wins.",
        "sum" => "sum: the total is the sum of the rewards' scores; the higher total wins.",
        "normalized" => "normalized: the total is the sum of the scores' z-scores; the higher total wins.",
        { } m when m.StartsWith("single:", StringComparison.Ordinal) => $"single: {m["single:".Length..]} alone decides; the total is its rank, lower wins.",
        { } m => $"ranked by {m}",
    };

    /// <summary>Rewards that gave every scored candidate the same score: they cannot have decided anything.</summary>
    public static IReadOnlyList<string> TiedEverywhere(JobView job)
    {
        var scored = job.Candidates.Where(c => c is { Scored: true }).Select(c => c!).ToList();
        if (scored.Count < 2) return [];
        return scored[0].Rewards.Select(r => r.Reward)
            .Where(name => scored.Select(c => c.Rewards.FirstOrDefault(r => r.Reward == name)?.Score).Distinct().Count() == 1)
            .ToList();
    }

    /// <summary>
    /// What separated <paramref name="c"/> from its neighbour in the order (the runner-up for the
    /// best, the one just above for the others): the rewards it ranks better and worse on, or that
    /// they tie and the host's tie-break (the lower index) decided.
    /// </summary>
    public static string? Decider(JobView job, CandidateView c)
    {
        if (job.Order is not { Count: > 1 } order || job.RankOf(c.Index) is not int rank) return null;
        var tied = TiedEverywhere(job);
        if (c.Rewards.Count > 0 && tied.Count == c.Rewards.Count)
            return "Every reward gave every candidate the same score, so nothing was judged: the order is the host's tie-break (the lower candidate index first).";
        int other = rank == 1 ? order[1] : order[rank - 2];
        var o = job.Candidates[other];
        if (o is null) return null;
        var ahead = new List<string>();
        var behind = new List<string>();
        foreach (var r in c.Rewards)
        {
            if (o.Rewards.FirstOrDefault(x => x.Reward == r.Reward) is not { } theirs || theirs.Rank == r.Rank) continue;
            string ranks = $"{r.Reward} (#{CandidatesPanel.Fmt(r.Rank)} vs #{CandidatesPanel.Fmt(theirs.Rank)})";
            (r.Rank < theirs.Rank ? ahead : behind).Add(ranks);
        }
        string vs = rank == 1 ? $"Ahead of the runner-up, candidate {other}" : $"Behind candidate {other} (#{rank - 1})";
        if (ahead.Count == 0 && behind.Count == 0 || c.Total == o.Total)
            return $"{vs}: tied on every reward's rank or on the total; the host's tie-break (the lower candidate index) decided.";
        string text = vs;
        if (ahead.Count > 0) text += $"; better on {string.Join(", ", ahead)}";
        if (behind.Count > 0) text += $"; worse on {string.Join(", ", behind)}";
        // The reward(s) on the winning side decided: those the better-ranked of the two wins on.
        var decided = rank == 1 ? ahead : behind;
        if (decided.Count > 0) text += $". Decided by {string.Join(" and ", decided.Select(d => d[..d.IndexOf(' ')]))}.";
        return text;
    }

    /// <summary>
    /// The candidate's segments once each: several segment rewards (sam, sam_coverage, sam_count)
    /// report the same segments, which must not be drawn or counted three times.
    /// </summary>
    public static List<JudgedSegment> DistinctSegments(IEnumerable<RewardView> rewards)
    {
        var seen = new HashSet<(string, double, double, double, double, long, Verdict)>();
        var list = new List<JudgedSegment>();
        foreach (var s in rewards.SelectMany(r => r.Segments))
        {
            var b = s.Segment.Box;
            if (seen.Add((s.Segment.Label, b.X, b.Y, b.Width, b.Height, s.Segment.Mask.Area, s.Verdict))) list.Add(s);
        }
        return list;
    }
}
