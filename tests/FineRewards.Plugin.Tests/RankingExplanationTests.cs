using FineRewards.Contracts;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Panels;

namespace FineRewards.Plugin.Tests;

/// <summary>The breakdown's words for why a candidate ranked where it did.</summary>
public class RankingExplanationTests
{
    static CandidateView Candidate(int index, double total, params (string Reward, double Score, double Rank)[] rewards) =>
        new(index, index, $"image-{index}", null, null,
            rewards.Select(r => new RewardView(r.Reward, r.Score, r.Rank, null, [], [])).ToList(), total, $"scored-{index}");

    static JobView Job(IReadOnlyList<int> order, params CandidateView[] candidates) =>
        new("job", new JobParameters("a red circle", K: candidates.Length), JobPhase.Completed, [.. candidates],
            Order: order, Selected: order[0], Method: "arl");

    [Fact]
    public void The_best_is_explained_by_the_rewards_it_beats_the_runner_up_on()
    {
        var job = Job([1, 0, 2],
            Candidate(0, 4, ("caption", 0.7, 2), ("sam", 0.5, 2)),
            Candidate(1, 3, ("caption", 0.9, 1), ("sam", 0.5, 2)),
            Candidate(2, 5, ("caption", 0.1, 3), ("sam", 0.6, 1)));
        Assert.Equal("Ahead of the runner-up, candidate 0; better on caption (#1 vs #2). Decided by caption.",
            RankingExplanation.Decider(job, job.Candidates[1]!));
        // Third: behind the second on caption, though ahead on sam; caption put it there.
        Assert.Equal("Behind candidate 0 (#2); better on sam (#1 vs #2); worse on caption (#3 vs #2). Decided by caption.",
            RankingExplanation.Decider(job, job.Candidates[2]!));
        Assert.Empty(RankingExplanation.TiedEverywhere(job));
        Assert.StartsWith("ARL: the total is the sum of the candidate's per-reward ranks; the lower rank sum wins.", RankingExplanation.Rule(job));
    }

    [Fact]
    public void When_every_reward_tied_it_says_nothing_was_judged()
    {
        var job = Job([0, 1, 2],
            Candidate(0, 4, ("caption", 0.5, 2), ("random", 0.3, 2)),
            Candidate(1, 4, ("caption", 0.5, 2), ("random", 0.3, 2)),
            Candidate(2, 4, ("caption", 0.5, 2), ("random", 0.3, 2)));
        Assert.Equal(["caption", "random"], RankingExplanation.TiedEverywhere(job));
        Assert.StartsWith("Every reward gave every candidate the same score, so nothing was judged", RankingExplanation.Decider(job, job.Candidates[0]!));
    }

    [Fact]
    public void Segments_reported_by_several_segment_rewards_count_once()
    {
        var mask = RunLengthMask.FromBits(4, 4, [.. Enumerable.Range(0, 16).Select(i => i < 4)]);
        JudgedSegment Seg(string label, Verdict v) => new(new Segment(label, 0.9, new Box(0, 0, 4, 1), mask), v);
        var segments = new List<JudgedSegment> { Seg("red circle", Verdict.Certain), Seg("blue square", Verdict.May) };
        // sam, sam_coverage and sam_count each report the same two segments (as separate objects).
        var rewards = new[] { "sam", "sam_coverage", "sam_count" }
            .Select(name => new RewardView(name, 0.5, 1, null, segments.Select(s => s with { }).ToList(), [])).ToList();
        var distinct = RankingExplanation.DistinctSegments(rewards);
        Assert.Equal(2, distinct.Count);
        Assert.Equal(1, distinct.Count(s => s.Verdict == Verdict.Certain));
    }
}
