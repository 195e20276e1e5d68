using System.Collections.Immutable;
using FineRewards.Core.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Tests;

/// <summary>Client snapshots of known states, built from the Shapes test models and Core's ranking (no host).</summary>
public static class Scenarios
{
    public const string Prompt = "a red circle above a blue square";

    public static HostInfo Host => new("1.0", "0.1.0", "CPU (2 threads)", "shapes", ["shapes"], ["caption-test", "segments-test"], 16, 150, 1024, 1024);

    public static ClientSnapshot Snapshot(ConnectionStatus connection, params JobView[] jobs) =>
        new(1, connection, jobs.ToImmutableDictionary(j => j.JobId), ImmutableList<FeedbackView>.Empty);

    public static ConnectionStatus Ready => new(ConnectionState.Ready, "ready: shapes on CPU (2 threads), rewards caption-test, segments-test", [], Host);

    public static ConnectionStatus Unreachable => new(ConnectionState.Unreachable,
        "host unreachable at http://127.0.0.1:50151: Error connecting to subchannel. (Connection refused)", ["Connection refused"], null);

    public static ConnectionStatus Missing => new(ConnectionState.MissingModels,
        "host is missing models: pack shapes: missing /data/packs/shapes/unet.safetensors",
        ["pack shapes: missing /data/packs/shapes/unet.safetensors"], Host with { ReadyPacks = [] });

    /// <summary>A job of <paramref name="k"/> candidates of which the first <paramref name="arrived"/> are there; ranked when all are scored.</summary>
    public static JobView Job(int k, int arrived, bool scored, string jobId = "job-1", long baseSeed = 40, string prompt = Prompt)
    {
        var p = new JobParameters(prompt, K: k, SeedPolicy: SeedPolicy.Fixed, BaseSeed: baseSeed, Steps: 20);
        var images = Enumerable.Range(0, arrived).Select(i => ShapesSceneTestGenerator.Render(prompt, baseSeed + i)).ToList();
        var captions = new ShapesCaptionTestReward().Score(prompt, images);
        var segments = new ShapesSegmentTestReward().Score(prompt, images);
        var candidates = new CandidateView?[k];
        RankingResult? ranking = null;
        if (scored && arrived == k)
            ranking = CandidateRanker.Rank(Enumerable.Range(0, k).Select(i => new CandidateScores(i.ToString(),
                new Dictionary<string, double> { ["caption-test"] = captions[i].Score, ["segments-test"] = segments[i].Score })).ToList(), CombineMethod.Arl);
        for (int i = 0; i < arrived; i++)
        {
            var rewards = ranking is null ? new List<RewardView>() :
            [
                new RewardView("caption-test", captions[i].Score, ranking.Candidates[i].Ranks["caption-test"], captions[i].Evidence.Caption, [], []),
                new RewardView("segments-test", segments[i].Score, ranking.Candidates[i].Ranks["segments-test"], null, segments[i].Evidence.Segments!, []),
            ];
            candidates[i] = new CandidateView(i, baseSeed + i, $"image-{i}", ImageCodec.ToSkImage(images[i]), images[i], rewards,
                ranking?.Candidates[i].Total, ranking is null ? null : $"scored-{i}");
        }
        return new JobView(jobId, p, ranking is null ? JobPhase.Running : JobPhase.Completed, [.. candidates], LastSequence: 3 + arrived * 2,
            BaseSeed: baseSeed, Step: ranking is null ? 12 : 20, Steps: 20,
            Order: ranking?.Order.Select(int.Parse).ToList(), Selected: ranking is null ? null : int.Parse(ranking.Selected),
            Method: ranking is null ? null : "arl");
    }
}
