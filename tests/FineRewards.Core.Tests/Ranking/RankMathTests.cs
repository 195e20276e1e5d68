using FineRewards.Core.Ranking;

namespace FineRewards.Core.Tests.Ranking;

public class RankMathTests
{
    [Fact]
    public void Highest_score_gets_rank_one_and_ties_share_the_mean_rank()
    {
        Assert.Equal(new[] { 1, 2.5, 2.5, 4 }, RankMath.RankDescending(new[] { 0.9, 0.5, 0.5, 0.1 }));
        Assert.Equal(new[] { 4, 2.5, 2.5, 1 }, RankMath.RankDescending(new[] { 0.1, 0.5, 0.5, 0.9 }));
    }

    [Fact]
    public void Three_way_tie_spans_three_ranks()
    {
        Assert.Equal(new[] { 3.0, 3.0, 1.0, 3.0, 5.0 }, RankMath.RankDescending(new[] { 0.2, 0.2, 0.7, 0.2, -1.0 }));
    }

    [Fact]
    public void All_equal_scores_all_share_the_middle_rank()
    {
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, RankMath.RankDescending(new[] { 0.3, 0.3, 0.3 }));
        Assert.Equal(new[] { 1.0 }, RankMath.RankDescending(new[] { 42.0 }));
    }

    [Fact]
    public void Z_scores_use_the_population_deviation()
    {
        double[] z = RankMath.ZScores(new[] { 1.0, 2.0, 3.0 });
        double std = Math.Sqrt(2.0 / 3.0);
        Assert.Equal(-1 / std, z[0], 12);
        Assert.Equal(0, z[1], 12);
        Assert.Equal(1 / std, z[2], 12);
    }

    [Fact]
    public void Constant_scores_give_exact_zeros_even_when_their_mean_is_inexact()
    {
        // (0.1 + 0.1 + 0.1) / 3 != 0.1 in binary floating point; a naive z-score would blow the
        // rounding error up to +-1.
        Assert.NotEqual(0.1, new[] { 0.1, 0.1, 0.1 }.Average());
        Assert.All(RankMath.ZScores(new[] { 0.1, 0.1, 0.1 }), z => Assert.Equal(0.0, z));
    }
}
