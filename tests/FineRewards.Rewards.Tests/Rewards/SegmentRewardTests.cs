using FineRewards.Contracts;
using FineRewards.Rewards.Segments;
using static FineRewards.Rewards.Tests.Rewards.Images;

namespace FineRewards.Rewards.Tests.Rewards;

public sealed class SegmentRewardTests
{
    static FakeJudge Judge() => new(new()
    {
        ["red circle"] = Verdict.Certain,
        ["green triangle"] = Verdict.Certain,
        ["blue square"] = Verdict.Unlikely,
        ["tree"] = Verdict.May,
    });

    static FakeSegmenter Segmenter() => new(
        [Seg("red circle"), Seg("blue square"), Seg("red circle")],
        [Seg("tree")],
        [],
        [Seg(" Red  Circle")],
        [Seg("red circle"), Seg("green triangle"), Seg("red circle")]);

    [Fact]
    public void Score_is_the_mean_verdict_value_over_segments_with_one_segmenter_and_one_judge_call()
    {
        var segmenter = Segmenter();
        var judge = Judge();
        var scores = new SegmentReward(segmenter, judge).Score("a red circle", WithIds(0, 1, 2, 3));

        Assert.Equal(1, segmenter.Calls);
        var query = Assert.Single(judge.Queries);
        Assert.Equal(["red circle", "blue square", "tree"], query);
        Assert.Equal(1.0 / 6, scores[0].Score, 12);
        Assert.Equal(0.0, scores[1].Score);
        Assert.Equal(0.5, scores[3].Score);
    }

    [Fact]
    public void Zero_segments_score_minus_half_and_are_flagged()
    {
        var judge = Judge();
        var scores = new SegmentReward(new FakeSegmenter([], []), judge).Score("a red circle", WithIds(0, 1));
        Assert.Empty(judge.Queries);
        Assert.All(scores, s =>
        {
            Assert.Equal(-0.5, s.Score);
            Assert.Contains("no-segments", s.Evidence.Flags!);
            Assert.Empty(s.Evidence.Segments!);
        });

        var custom = new SegmentReward(new FakeSegmenter([], []), judge, new SegmentRewardOptions(NoSegmentsScore: -1)).Score("p", WithIds(0));
        Assert.Equal(-1, custom[0].Score);
    }

    [Fact]
    public void Evidence_carries_every_segment_with_its_verdict()
    {
        var scores = new SegmentReward(Segmenter(), Judge()).Score("a red circle", WithIds(0, 3));
        var first = scores[0].Evidence.Segments!;
        Assert.Equal(["red circle", "blue square", "red circle"], first.Select(j => j.Segment.Label));
        Assert.Equal([Verdict.Certain, Verdict.Unlikely, Verdict.Certain], first.Select(j => j.Verdict));
        // The segment keeps the segmenter's own spelling; the verdict is for its normalised label.
        var renamed = Assert.Single(scores[1].Evidence.Segments!);
        Assert.Equal(" Red  Circle", renamed.Segment.Label);
        Assert.Equal(Verdict.Certain, renamed.Verdict);
        Assert.Null(scores[0].Evidence.Flags);
    }

    [Fact]
    public void A_judge_failure_costs_only_the_candidates_whose_labels_fail()
    {
        var judge = Judge();
        judge.Poison.Add("tree");
        var scores = new SegmentReward(Segmenter(), judge).Score("a red circle", WithIds(0, 1, 2, 3));

        // The joint query failed, then each candidate with segments was asked on its own.
        Assert.Equal(1 + 3, judge.Queries.Count);
        Assert.Equal(1.0 / 6, scores[0].Score, 12);
        Assert.Equal(-0.5, scores[1].Score);
        Assert.Contains("judge-failed", scores[1].Evidence.Flags!);
        Assert.Contains("cannot judge tree", scores[1].Evidence.Details!["judge-error"]);
        Assert.Contains("no-segments", scores[2].Evidence.Flags!);
        Assert.Equal(0.5, scores[3].Score);
        Assert.All(scores, s => Assert.Contains("judge-fallback", s.Evidence.Flags!));
        Assert.DoesNotContain("judge-failed", scores[0].Evidence.Flags!);
    }

    sealed class Expect(params ExpectedObject[] objects) : IPromptLabels
    {
        public IReadOnlyList<ExpectedObject>? Expected(string prompt) => objects;
    }

    [Fact]
    public void Coverage_term_penalises_asked_for_objects_that_no_segment_shows()
    {
        var labels = new Expect(new ExpectedObject("Red Circle", 2), new ExpectedObject("green triangle", 1));
        var plain = new SegmentReward(Segmenter(), Judge(), new SegmentRewardOptions(CoverageWeight: 0.4), labels);
        var scores = plain.Score("two red circles and a green triangle", WithIds(3, 4, 2));

        // Candidate 3: one red circle, no triangle: coverage 1/2.
        Assert.Equal(0.5 - 0.4 * 0.5, scores[0].Score, 12);
        Assert.Equal("green triangle", scores[0].Evidence.Details!["missing"]);
        Assert.Contains("missing-objects", scores[0].Evidence.Flags!);
        // Candidate 4: everything present.
        Assert.Equal(0.5, scores[1].Score, 12);
        // No segments: nothing covered.
        Assert.Equal(-0.5 - 0.4, scores[2].Score, 12);

        var counting = new SegmentReward(Segmenter(), Judge(), new SegmentRewardOptions(CoverageWeight: 0.4, CountAware: true), labels);
        var counted = counting.Score("two red circles and a green triangle", WithIds(3, 4));
        // One of two circles (1/2), no triangle (0): coverage 1/4.
        Assert.Equal(0.5 - 0.4 * 0.75, counted[0].Score, 12);
        Assert.Equal(0.5, counted[1].Score, 12);
    }

    [Fact]
    public void Coverage_without_a_provider_expects_the_labels_the_judge_is_certain_of()
    {
        var reward = new SegmentReward(Segmenter(), Judge(), new SegmentRewardOptions(CoverageWeight: 1));
        var scores = reward.Score("a red circle and a green triangle", WithIds(4, 3, 1));
        Assert.Equal(0.5, scores[0].Score, 12);
        Assert.Equal(0.5 - 0.5, scores[1].Score, 12);
        Assert.Equal(0.0 - 1.0, scores[2].Score, 12);
        Assert.Equal("green triangle; red circle", scores[2].Evidence.Details!["expected"]);
    }

    [Fact]
    public void Version_names_segmenter_judge_and_variant()
    {
        Assert.Equal("segment-v1+fake-segmenter+fake-judge:1", new SegmentReward(Segmenter(), Judge()).Version);
        Assert.EndsWith("+coverage0.5c", new SegmentReward(Segmenter(), Judge(), new SegmentRewardOptions(CoverageWeight: 0.5, CountAware: true)).Version);
    }
}
