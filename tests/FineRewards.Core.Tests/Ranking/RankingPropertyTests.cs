using CsCheck;
using FineRewards.Core.Ranking;

namespace FineRewards.Core.Tests.Ranking;

/// <summary>Invariants of the ranking rule over random score tables (CsCheck shrinks failures).</summary>
public class RankingPropertyTests
{
    static readonly string[] RewardNames = { "caption", "sam", "clip", "aesthetic" };
    static readonly CombineMethod[] Methods = { CombineMethod.Arl, CombineMethod.Sum, CombineMethod.Normalized, CombineMethod.Single("caption") };

    // Scores drawn from a small grid so ties are common; ties are where rank rules go wrong.
    static readonly Gen<double> Score = Gen.Int[0, 6].Select(i => i / 4.0 - 0.5);

    /// <summary>K in 1..8 candidates, R in 1..4 rewards (caption always present).</summary>
    static readonly Gen<CandidateScores[]> Table =
        Gen.Select(Gen.Int[1, 8], Gen.Int[1, 4]).SelectMany((k, r) =>
            Score.Array[r].Array[k].Select(rows => rows
                .Select((row, i) => new CandidateScores($"c{i}", RewardNames.Take(r).Select((name, j) => (name, row[j])).ToDictionary(p => p.name, p => p.Item2)))
                .ToArray()));

    static readonly Gen<(CandidateScores[] Table, int[] Permutation)> TableAndPermutation =
        Table.SelectMany(t => Gen.Shuffle(Enumerable.Range(0, t.Length).ToArray()).Select(p => (t, p)));

    [Fact]
    public void Permuting_candidates_permutes_their_ranks()
    {
        TableAndPermutation.Sample(x =>
        {
            var permuted = x.Permutation.Select(i => x.Table[i]).ToArray();
            foreach (var method in Methods)
            {
                var a = CandidateRanker.Rank(x.Table, method).Candidates.ToDictionary(c => c.Id);
                var b = CandidateRanker.Rank(permuted, method).Candidates.ToDictionary(c => c.Id);
                foreach (var (id, ranks) in a)
                {
                    Assert.Equal(ranks.Ranks, b[id].Ranks);
                    Assert.Equal(ranks.Total, b[id].Total, 9);
                }
            }
        });
    }

    [Fact]
    public void Ranks_of_each_reward_sum_to_k_times_k_plus_one_over_two()
    {
        Table.Sample(t =>
        {
            var r = CandidateRanker.Rank(t, CombineMethod.Arl);
            foreach (string reward in r.Rewards)
                Assert.Equal(t.Length * (t.Length + 1) / 2.0, r.Candidates.Sum(c => c.Ranks[reward]));
        });
    }

    [Fact]
    public void A_dominating_candidate_wins_under_every_method()
    {
        var gen = Table.Where(t => t.Length >= 2).SelectMany(t => Gen.Int[0, t.Length - 1].Select(i => (t, i)));
        gen.Sample(x =>
        {
            // Lift candidate i strictly above every other candidate in every reward.
            var (table, winner) = x;
            var lifted = table.Select((c, i) => i != winner ? c
                : new CandidateScores(c.Id, c.Scores.ToDictionary(s => s.Key, s => table.Max(o => o.Scores[s.Key]) + 0.125))).ToArray();
            var weights = lifted[0].Scores.Keys.Select((k, j) => (k, w: 0.5 + j)).ToDictionary(p => p.k, p => p.w);
            foreach (var method in Methods)
            {
                Assert.Equal(lifted[winner].Id, CandidateRanker.Rank(lifted, method).Selected);
                Assert.Equal(lifted[winner].Id, CandidateRanker.Rank(lifted, method, weights).Selected);
            }
        });
    }

    [Fact]
    public void Adding_a_constant_reward_never_changes_the_arl_or_normalized_order()
    {
        var gen = Table.SelectMany(t => Gen.Double[-10, 10].Select(c => (t, c)));
        gen.Sample(x =>
        {
            var (table, constant) = x;
            var extended = table.Select(c => new CandidateScores(c.Id,
                c.Scores.Append(new KeyValuePair<string, double>("constant", constant)).ToDictionary(p => p.Key, p => p.Value))).ToArray();
            foreach (var method in new[] { CombineMethod.Arl, CombineMethod.Normalized })
                Assert.Equal(CandidateRanker.Rank(table, method).Order, CandidateRanker.Rank(extended, method).Order);
        });
    }

    [Fact]
    public void Order_is_a_permutation_and_selected_is_its_head()
    {
        Table.Sample(t =>
        {
            foreach (var method in Methods)
            {
                var r = CandidateRanker.Rank(t, method);
                Assert.Equal(t.Select(c => c.Id).Order(), r.Order.Order());
                Assert.Equal(r.Order[0], r.Selected);
            }
        });
    }
}
