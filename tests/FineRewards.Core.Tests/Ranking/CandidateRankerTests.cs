using FineRewards.Core.Ranking;
using FineRewards.Contracts;

namespace FineRewards.Core.Tests.Ranking;

public class CandidateRankerTests
{
    static CandidateScores C(string id, params (string Reward, double Score)[] scores) =>
        new(id, scores.ToDictionary(s => s.Reward, s => s.Score));

    // The paper's setting: K candidates, caption and SAM rewards.
    static readonly CandidateScores[] Four =
    {
        C("c0", ("caption", 0.91), ("sam", 0.12)),
        C("c1", ("caption", 0.50), ("sam", 0.12)),
        C("c2", ("caption", 0.50), ("sam", 0.30)),
        C("c3", ("caption", 0.95), ("sam", 0.40)),
    };

    [Fact]
    public void Arl_sums_per_reward_ranks_and_the_lowest_total_wins()
    {
        var r = CandidateRanker.Rank(Four, CombineMethod.Arl);
        Assert.Equal(new[] { "c3", "c0", "c2", "c1" }, r.Order);
        Assert.Equal("c3", r.Selected);
        var c0 = r.Candidates[0];
        Assert.Equal(2, c0.Ranks["caption"]);
        Assert.Equal(3.5, c0.Ranks["sam"]);
        Assert.Equal(5.5, c0.Total);
        Assert.Equal(new[] { 5.5, 7, 5.5, 2 }, r.Candidates.Select(c => c.Total));
    }

    [Fact]
    public void Arl_breaks_equal_totals_by_lower_candidate_index()
    {
        // c0 and c2 both total 5.5 above; c0 must come first. Reversed input: c2 first.
        var r = CandidateRanker.Rank(Four, CombineMethod.Arl);
        Assert.True(r.Order.ToList().IndexOf("c0") < r.Order.ToList().IndexOf("c2"));
        var reversed = CandidateRanker.Rank(Four.Reverse().ToArray(), CombineMethod.Arl);
        Assert.Equal(new[] { "c3", "c2", "c0", "c1" }, reversed.Order);
    }

    [Fact]
    public void Arl_and_sum_can_disagree()
    {
        // Caption differences are small, SAM's are large: the score sum follows SAM, the rank
        // sum weighs both rewards equally.
        var candidates = new[]
        {
            C("c0", ("caption", 0.95), ("sam", 0.0)),
            C("c1", ("caption", 0.94), ("sam", 0.0)),
            C("c2", ("caption", 0.60), ("sam", 0.5)),
            C("c3", ("caption", 0.70), ("sam", 0.25)),
        };
        Assert.Equal("c0", CandidateRanker.Rank(candidates, CombineMethod.Arl).Selected);
        Assert.Equal("c2", CandidateRanker.Rank(candidates, CombineMethod.Sum).Selected);
    }

    [Fact]
    public void Sum_adds_raw_scores_and_the_highest_wins()
    {
        var r = CandidateRanker.Rank(Four, CombineMethod.Sum);
        Assert.Equal(new[] { "c3", "c0", "c2", "c1" }, r.Order);
        Assert.Equal(0.91 + 0.12, r.Candidates[0].Total, 12);
    }

    [Fact]
    public void Sum_breaks_equal_totals_by_lower_index()
    {
        var r = CandidateRanker.Rank(new[] { C("a", ("x", 1.0)), C("b", ("x", 2.0)), C("c", ("x", 2.0)) }, CombineMethod.Sum);
        Assert.Equal(new[] { "b", "c", "a" }, r.Order);
    }

    [Fact]
    public void Normalized_z_scores_each_reward_before_summing()
    {
        // Raw sum favours c1 (big-scale reward); per-reward z-scores balance the two rewards.
        var candidates = new[]
        {
            C("c0", ("big", 100.0), ("small", 0.3)),
            C("c1", ("big", 110.0), ("small", 0.1)),
            C("c2", ("big", 90.0), ("small", 0.2)),
        };
        Assert.Equal("c1", CandidateRanker.Rank(candidates, CombineMethod.Sum).Selected);
        var r = CandidateRanker.Rank(candidates, CombineMethod.Normalized);
        // z(big) = [0, 1.2247, -1.2247], z(small) = [1.2247, -1.2247, 0]
        Assert.Equal(1.2247448713915890, r.Candidates[0].Total, 12);
        Assert.Equal(0.0, r.Candidates[1].Total, 12);
        Assert.Equal(-1.2247448713915890, r.Candidates[2].Total, 12);
        Assert.Equal(new[] { "c0", "c1", "c2" }, r.Order);
    }

    [Fact]
    public void Normalized_ignores_a_reward_that_is_constant_across_candidates()
    {
        var candidates = new[]
        {
            C("c0", ("caption", 0.2), ("flat", 0.1)),
            C("c1", ("caption", 0.9), ("flat", 0.1)),
            C("c2", ("caption", 0.5), ("flat", 0.1)),
        };
        var r = CandidateRanker.Rank(candidates, CombineMethod.Normalized);
        var captionOnly = CandidateRanker.Rank(candidates.Select(c => C(c.Id, ("caption", c.Scores["caption"]))).ToArray(), CombineMethod.Normalized);
        Assert.Equal(captionOnly.Candidates.Select(c => c.Total), r.Candidates.Select(c => c.Total));
        Assert.Equal(new[] { "c1", "c2", "c0" }, r.Order);
    }

    [Fact]
    public void Single_uses_one_reward_and_reports_its_rank_as_total()
    {
        var r = CandidateRanker.Rank(Four, CombineMethod.Single("sam"));
        Assert.Equal(new[] { "c3", "c2", "c0", "c1" }, r.Order);
        Assert.Equal(new[] { 3.5, 3.5, 2, 1 }, r.Candidates.Select(c => c.Total));
        // The other reward's ranks are still reported.
        Assert.Equal(2, r.Candidates[0].Ranks["caption"]);
    }

    [Fact]
    public void Weights_apply_to_every_method()
    {
        var weights = new Dictionary<string, double> { ["caption"] = 0, ["sam"] = 1 };
        Assert.Equal("c3", CandidateRanker.Rank(Four, CombineMethod.Arl, weights).Selected);
        var candidates = new[]
        {
            C("c0", ("caption", 0.95), ("sam", 0.0)),
            C("c1", ("caption", 0.60), ("sam", 0.5)),
        };
        Assert.Equal("c0", CandidateRanker.Rank(candidates, CombineMethod.Arl, new Dictionary<string, double> { ["caption"] = 2 }).Selected);
        Assert.Equal("c1", CandidateRanker.Rank(candidates, CombineMethod.Arl, new Dictionary<string, double> { ["sam"] = 2 }).Selected);
        Assert.Equal("c1", CandidateRanker.Rank(candidates, CombineMethod.Sum, new Dictionary<string, double> { ["caption"] = 0.1 }).Selected);
        Assert.Equal("c0", CandidateRanker.Rank(candidates, CombineMethod.Normalized, new Dictionary<string, double> { ["sam"] = 0.5 }).Selected);
        var arl = CandidateRanker.Rank(candidates, CombineMethod.Arl, new Dictionary<string, double> { ["caption"] = 2 });
        Assert.Equal(2 * 1 + 1 * 2, arl.Candidates[0].Total);
    }

    [Fact]
    public void One_candidate_is_selected_alone()
    {
        var r = CandidateRanker.Rank(new[] { C("only", ("caption", 0.3)) }, CombineMethod.Arl);
        Assert.Equal("only", r.Selected);
        Assert.Equal(1, r.Candidates[0].Total);
    }

    [Fact]
    public void Nan_score_is_an_error_naming_candidate_and_reward()
    {
        var candidates = new[] { C("c0", ("caption", 0.1), ("sam", 0.2)), C("c1", ("caption", double.NaN), ("sam", 0.2)) };
        var e = Assert.Throws<InputException>(() => CandidateRanker.Rank(candidates, CombineMethod.Arl));
        Assert.Contains("c1", e.Message);
        Assert.Contains("caption", e.Message);
        Assert.Equal("candidates[1].scores.caption", e.Field);
    }

    [Fact]
    public void Infinite_score_is_an_error()
    {
        var candidates = new[] { C("c0", ("sam", double.PositiveInfinity)) };
        Assert.Throws<InputException>(() => CandidateRanker.Rank(candidates, CombineMethod.Sum));
    }

    [Fact]
    public void Missing_score_is_an_error_naming_candidate_and_reward()
    {
        var candidates = new[] { C("c0", ("caption", 0.1), ("sam", 0.2)), C("c1", ("caption", 0.3)) };
        var e = Assert.Throws<InputException>(() => CandidateRanker.Rank(candidates, CombineMethod.Arl));
        Assert.Contains("\"c1\"", e.Message);
        Assert.Contains("\"sam\"", e.Message);
    }

    [Fact]
    public void Duplicate_ids_empty_input_and_unknown_rewards_are_errors()
    {
        Assert.Throws<InputException>(() => CandidateRanker.Rank(Array.Empty<CandidateScores>(), CombineMethod.Arl));
        Assert.Throws<InputException>(() => CandidateRanker.Rank(new[] { C("a", ("x", 1)), C("a", ("x", 2)) }, CombineMethod.Arl));
        Assert.Throws<InputException>(() => CandidateRanker.Rank(new[] { C("", ("x", 1)) }, CombineMethod.Arl));
        Assert.Throws<InputException>(() => CandidateRanker.Rank(new[] { C("a") }, CombineMethod.Arl));
        var e = Assert.Throws<InputException>(() => CandidateRanker.Rank(Four, CombineMethod.Single("clip")));
        Assert.Contains("clip", e.Message);
        var w = Assert.Throws<InputException>(() => CandidateRanker.Rank(Four, CombineMethod.Arl, new Dictionary<string, double> { ["clip"] = 1 }));
        Assert.Equal("weights.clip", w.Field);
        Assert.Throws<InputException>(() => CandidateRanker.Rank(Four, CombineMethod.Arl, new Dictionary<string, double> { ["sam"] = -1 }));
        Assert.Throws<InputException>(() => CandidateRanker.Rank(Four, CombineMethod.Arl, new Dictionary<string, double> { ["sam"] = double.NaN }));
    }

    [Theory]
    [InlineData("arl", CombineKind.Arl, null)]
    [InlineData("sum", CombineKind.Sum, null)]
    [InlineData("normalized", CombineKind.Normalized, null)]
    [InlineData("single:caption", CombineKind.Single, "caption")]
    public void Methods_parse_and_print_back(string text, CombineKind kind, string? reward)
    {
        var m = CombineMethod.Parse(text);
        Assert.Equal(kind, m.Kind);
        Assert.Equal(reward, m.Reward);
        Assert.Equal(text, m.ToString());
    }

    [Theory]
    [InlineData("rank-sum")]
    [InlineData("single:")]
    [InlineData("")]
    public void Unknown_methods_are_errors(string text)
    {
        var e = Assert.Throws<InputException>(() => CombineMethod.Parse(text));
        Assert.Equal("method", e.Field);
    }
}
