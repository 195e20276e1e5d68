using FineRewards.Contracts;
using FineRewards.Shapes.Judges;
using FineRewards.Rewards.Segments;
using static FineRewards.Rewards.Tests.Rewards.Images;

namespace FineRewards.Rewards.Tests.Rewards;

/// <summary>Answers a fixed list of relations, or throws when <see cref="Fail"/> is set.</summary>
sealed class FakeRelationJudge(params PromptRelation[] relations) : IRelationJudge
{
    public int Calls { get; private set; }
    public bool Fail { get; init; }
    public string Name => "fake-relations";
    public string Version => "1";

    public IReadOnlyList<PromptRelation> Relations(string prompt, CancellationToken cancellationToken = default)
    {
        Calls++;
        if (Fail) throw new InvalidOperationException("relation model broke");
        return relations;
    }
}

public sealed class RelationRewardTests
{
    const string Prompt = "a red circle above a blue square";

    /// <summary>A segment of a 64x64 image whose 16 px box has its centre at (cx, cy).</summary>
    static Segment At(string label, double cx, double cy, double confidence = 0.9) =>
        new(label, confidence, new Box(cx - 8, cy - 8, 16, 16), RunLengthMask.FromBits(64, 64, new bool[64 * 64]));

    static FakeJudge Labels() => new(new() { ["red circle"] = Verdict.Certain, ["blue square"] = Verdict.Certain });

    // 0: as the prompt says; 1: swapped (the caption reward's 0.986 case); 2: side by side, 2 px apart vertically
    // (short of the 4 px margin); 3: no blue square; 4: two red circles, the more confident one below the square.
    static FakeSegmenter Scenes() => new(
        [At("red circle", 32, 16), At("blue square", 32, 48)],
        [At("blue square", 32, 16), At("red circle", 32, 48)],
        [At("red circle", 16, 31), At("blue square", 48, 33)],
        [At("red circle", 32, 16)],
        [At("red circle", 32, 16, 0.5), At("blue square", 32, 32), At("red circle", 32, 48, 0.95)]);

    static SegmentReward Reward(IRelationJudge relations, double weight = 1) =>
        new(Scenes(), Labels(), new SegmentRewardOptions(RelationWeight: weight), relationJudge: relations);

    [Fact]
    public void Relation_term_tells_the_prompts_placement_from_the_swapped_one_that_eq5_scores_alike()
    {
        var judge = new FakeRelationJudge(new PromptRelation("red circle", SpatialRelation.Above, "blue square"));
        var plain = new SegmentReward(Scenes(), Labels()).Score(Prompt, WithIds(0, 1));
        Assert.Equal(plain[0].Score, plain[1].Score); // eq. 5 cannot see positions

        var scores = Reward(judge).Score(Prompt, WithIds(0, 1, 2, 3, 4));
        Assert.Equal(1, judge.Calls); // once per prompt for all K candidates
        Assert.Equal(0.5 + 0.5, scores[0].Score, 12);
        Assert.Equal(0.5 - 0.5, scores[1].Score, 12);
        Assert.Equal(0.5 - 0.5, scores[2].Score, 12);
        Assert.Equal(0.5 - 0.5, scores[3].Score, 12);
        Assert.Equal(0.5 - 0.5, scores[4].Score, 12);

        var holds = Assert.Single(scores[0].Evidence.Relations!);
        Assert.Equal((RelationVerdict.Holds, 0, 1), (holds.Verdict, holds.SubjectSegment, holds.ObjectSegment));
        Assert.Equal(new Box(24, 8, 16, 16), holds.SubjectBox);
        Assert.Equal(new Box(24, 40, 16, 16), holds.ObjectBox);
        Assert.Equal(32 - 4, holds.Slack!.Value, 12);
        Assert.Null(scores[0].Evidence.Flags);

        var swapped = Assert.Single(scores[1].Evidence.Relations!);
        Assert.Equal((RelationVerdict.Violated, 1, 0), (swapped.Verdict, swapped.SubjectSegment, swapped.ObjectSegment));
        Assert.Contains("relation-violated", scores[1].Evidence.Flags!);
        Assert.Equal(2 - 4, scores[2].Evidence.Relations![0].Slack!.Value, 12);
        var missing = Assert.Single(scores[3].Evidence.Relations!);
        Assert.Equal((RelationVerdict.Missing, 0, (int?)null, (Box?)null), (missing.Verdict, missing.SubjectSegment, missing.ObjectSegment, missing.ObjectBox));
        Assert.Contains("relation-missing", scores[3].Evidence.Flags!);
        // The most confident red circle (index 2, below the square) is the subject.
        Assert.Equal((RelationVerdict.Violated, 2), (scores[4].Evidence.Relations![0].Verdict, scores[4].Evidence.Relations![0].SubjectSegment));
        Assert.Equal(("0.5", "-0.5"), (scores[0].Evidence.Details!["relation_term"], scores[1].Evidence.Details!["relation_term"]));
    }

    [Fact]
    public void A_prompt_without_relations_scores_as_eq5_and_the_weight_scales_the_term()
    {
        var none = Reward(new FakeRelationJudge()).Score(Prompt, WithIds(0, 1));
        var plain = new SegmentReward(Scenes(), Labels()).Score(Prompt, WithIds(0, 1));
        Assert.Equal(plain.Select(s => s.Score), none.Select(s => s.Score));
        Assert.Empty(none[0].Evidence.Relations!);

        var half = Reward(new FakeRelationJudge(new PromptRelation("Red  Circle", SpatialRelation.Above, "blue square")), weight: 0.5).Score(Prompt, WithIds(0, 1));
        Assert.Equal([0.75, 0.25], half.Select(s => s.Score));
    }

    [Fact]
    public void A_failing_relation_judge_costs_every_candidate_the_term_alike_and_is_flagged()
    {
        var scores = Reward(new FakeRelationJudge { Fail = true }).Score(Prompt, WithIds(0, 1));
        Assert.Equal([0.5, 0.5], scores.Select(s => s.Score));
        Assert.All(scores, s => Assert.Contains("relation-judge-failed", s.Evidence.Flags!));
        Assert.Contains("relation model broke", scores[0].Evidence.Details!["relation-judge-error"]);
    }

    [Fact]
    public void Relations_need_a_judge_and_the_version_names_it()
    {
        Assert.Throws<ArgumentException>(() => new SegmentReward(Scenes(), Labels(), new SegmentRewardOptions(RelationWeight: 1)));
        Assert.Contains("+relations1", Reward(new FakeRelationJudge()).Version);
        Assert.Contains("fake-relations:1", Reward(new FakeRelationJudge()).Version);
        Assert.DoesNotContain("relations", new SegmentReward(Scenes(), Labels()).Version);
    }

    [Theory]
    [InlineData(SpatialRelation.LeftOf, 10, 32, 14, 32, 0)]
    [InlineData(SpatialRelation.LeftOf, 10, 32, 13.5, 32, -0.5)]
    [InlineData(SpatialRelation.RightOf, 20, 0, 10, 0, 6)]
    [InlineData(SpatialRelation.Above, 0, 10, 0, 30, 16)]
    [InlineData(SpatialRelation.Below, 0, 10, 0, 30, -24)]
    public void Slack_follows_the_worlds_centre_rule(SpatialRelation relation, double ax, double ay, double bx, double by, double expected) =>
        Assert.Equal(expected, RelationCheck.Slack(relation, (ax, ay), (bx, by), 4), 12);

    [Fact]
    public void Lexical_relation_judge_reads_position_prompts_from_the_grammar()
    {
        var judge = new LexicalRelationJudge();
        Assert.Equal([new PromptRelation("red circle", SpatialRelation.Above, "blue square")], judge.Relations(Prompt));
        Assert.Equal([new PromptRelation("purple triangle", SpatialRelation.RightOf, "green circle")], judge.Relations("A purple triangle to the right of a green circle"));
        Assert.Empty(judge.Relations("a red circle and a blue square"));
        Assert.Empty(judge.Relations("three green triangles"));
        var e = Assert.Throws<FineRewards.Contracts.InputException>(() => judge.Relations("a red circle near a blue square"));
        Assert.Equal("prompt", e.Field);
    }
}
