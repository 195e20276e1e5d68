using FineRewards.Contracts;

namespace FineRewards.Core.Ranking;

/// <summary>
/// Orders the K candidates of one prompt under R rewards and picks the best: the selection rule
/// of Assemble Reward-ranked Learning and its alternatives.
/// </summary>
/// <remarks>
/// The paper's reference notebook ranks with argsort indices rather than ranks, which picks the
/// real rank-sum winner only about 1/K of the time; this follows the paper's equation 6.
/// Ties in the combined value go to the lower candidate index, so a result never depends on
/// sort stability or on the platform.
/// </remarks>
public static class CandidateRanker
{
    /// <param name="field">Prefix for error messages, e.g. "prompts[2].candidates".</param>
    public static RankingResult Rank(
        IReadOnlyList<CandidateScores> candidates,
        CombineMethod method,
        IReadOnlyDictionary<string, double>? weights = null,
        string field = "candidates")
    {
        List<string> rewards = Validate(candidates, method, weights, field);
        int k = candidates.Count;

        var ranksByReward = new Dictionary<string, double[]>();
        var zByReward = new Dictionary<string, double[]>();
        foreach (string reward in rewards)
        {
            double[] scores = candidates.Select(c => c.Scores[reward]).ToArray();
            ranksByReward[reward] = RankMath.RankDescending(scores);
            if (method.Kind == CombineKind.Normalized) zByReward[reward] = RankMath.ZScores(scores);
        }

        double Weight(string reward) => weights is not null && weights.TryGetValue(reward, out double w) ? w : 1.0;

        var totals = new double[k];
        for (int i = 0; i < k; i++)
        {
            totals[i] = method.Kind switch
            {
                CombineKind.Arl => rewards.Sum(r => Weight(r) * ranksByReward[r][i]),
                CombineKind.Sum => rewards.Sum(r => Weight(r) * candidates[i].Scores[r]),
                CombineKind.Normalized => rewards.Sum(r => Weight(r) * zByReward[r][i]),
                CombineKind.Single => ranksByReward[method.Reward!][i],
                _ => throw new ArgumentOutOfRangeException(nameof(method)),
            };
        }

        int[] order = Enumerable.Range(0, k).ToArray();
        Array.Sort(order, (a, b) =>
        {
            int byTotal = method.LowerIsBetter ? totals[a].CompareTo(totals[b]) : totals[b].CompareTo(totals[a]);
            return byTotal != 0 ? byTotal : a.CompareTo(b);
        });

        var perCandidate = new List<CandidateRanks>(k);
        for (int i = 0; i < k; i++)
        {
            var ranks = new Dictionary<string, double>();
            foreach (string reward in rewards) ranks[reward] = ranksByReward[reward][i];
            perCandidate.Add(new CandidateRanks(candidates[i].Id, ranks, totals[i]));
        }
        string[] orderIds = order.Select(i => candidates[i].Id).ToArray();
        return new RankingResult(method, rewards, orderIds, orderIds[0], perCandidate);
    }

    static List<string> Validate(
        IReadOnlyList<CandidateScores> candidates,
        CombineMethod method,
        IReadOnlyDictionary<string, double>? weights,
        string field)
    {
        if (candidates.Count == 0) throw new InputException(field, "no candidates; expected at least one");

        var ids = new HashSet<string>(StringComparer.Ordinal);
        var rewards = new List<string>();
        for (int i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            if (string.IsNullOrEmpty(c.Id)) throw new InputException($"{field}[{i}].id", "missing or empty candidate id");
            if (!ids.Add(c.Id)) throw new InputException($"{field}[{i}].id", $"candidate id \"{c.Id}\" appears twice");
            foreach (string reward in c.Scores.Keys)
                if (!rewards.Contains(reward)) rewards.Add(reward);
        }
        if (rewards.Count == 0) throw new InputException(field, "no candidate has any score");

        for (int i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            foreach (string reward in rewards)
            {
                if (!c.Scores.TryGetValue(reward, out double s))
                    throw new InputException($"{field}[{i}].scores.{reward}", $"candidate \"{c.Id}\" has no score for reward \"{reward}\"");
                if (!double.IsFinite(s))
                    throw new InputException($"{field}[{i}].scores.{reward}", $"candidate \"{c.Id}\" has a non-finite score ({s}) for reward \"{reward}\"");
            }
        }

        if (method.Kind == CombineKind.Single && !rewards.Contains(method.Reward!))
            throw new InputException("method", $"single:{method.Reward} names a reward no candidate has; rewards present: {string.Join(", ", rewards)}");

        if (weights is not null)
        {
            foreach (var (reward, w) in weights)
            {
                if (!rewards.Contains(reward))
                    throw new InputException($"weights.{reward}", $"no candidate has a reward \"{reward}\"; rewards present: {string.Join(", ", rewards)}");
                if (!double.IsFinite(w) || w < 0)
                    throw new InputException($"weights.{reward}", $"weight {w} is not a finite number >= 0");
            }
        }
        return rewards;
    }
}
