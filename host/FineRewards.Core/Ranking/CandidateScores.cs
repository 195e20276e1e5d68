namespace FineRewards.Core.Ranking;

/// <summary>The scores one candidate received, by reward name.</summary>
public sealed record CandidateScores(string Id, IReadOnlyDictionary<string, double> Scores);

/// <summary>One candidate's per-reward ranks and the method's combined value.</summary>
/// <param name="Total">arl: weighted rank sum (lower is better); sum: weighted score sum;
/// normalized: weighted z-score sum (higher is better); single: that reward's rank.</param>
public sealed record CandidateRanks(string Id, IReadOnlyDictionary<string, double> Ranks, double Total);

/// <summary>The outcome of ranking the K candidates of one prompt.</summary>
/// <param name="Order">Candidate ids, best first.</param>
/// <param name="Rewards">Reward names in the order they first appear in the input.</param>
/// <param name="Candidates">Per-candidate ranks, in input order.</param>
public sealed record RankingResult(
    CombineMethod Method,
    IReadOnlyList<string> Rewards,
    IReadOnlyList<string> Order,
    string Selected,
    IReadOnlyList<CandidateRanks> Candidates);
