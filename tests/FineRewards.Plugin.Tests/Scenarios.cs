using System.Collections.Immutable;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Tests;

/// <summary>Client snapshots of known states, built from the Shapes test models and Core's ranking (no host).</summary>
public static class Scenarios
{
    public const string Prompt = "a red circle above a blue square";

    public static readonly string[] Samplers = ["ddim", "euler", "euler_a", "dpmpp_2m"];

    public static HostInfo Host => new("1.0", "0.1.0", "CPU (2 threads)", "shapes", ["shapes"], ["caption-test", "segments-test", "random"], 16, 150, 1024, 1024)
    {
        Packs = [new PackView("shapes", true, ["caption-test", "segments-test", "random"], ["caption-test", "segments-test"], Samplers)],
    };

    /// <summary>The host's answer to a prompt outside the Shapes grammar, as CheckPrompt words it.</summary>
    public static PromptCheck Refused(string prompt) => new("", prompt, false,
        $"prompt: \"{prompt}\" is not in the Shapes grammar: expected \"a\" or a number word at word 1, found \"{prompt.Split(' ')[0]}\"",
        "write it the way the pack understands prompts, e.g. \"a red circle above a blue square\"");

    /// <summary>A ranked job whose rewards gave every candidate the same score: the order is only the tie-break.</summary>
    public static JobView TiedJob()
    {
        var job = Job(k: 4, arrived: 4, scored: true, prompt: "a red circle to the left of a blue square");
        var candidates = job.Candidates.Select(c => c! with
        {
            Rewards = c.Rewards.Select(r => r with { Score = r.Reward == "caption-test" ? 0.9 : 0.5, Rank = 2.5 }).ToList(),
            Total = 5,
        }).Select(c => (CandidateView?)c).ToImmutableArray();
        return job with { Candidates = candidates, Order = [0, 1, 2, 3], Selected = 0 };
    }

    public static ClientSnapshot Snapshot(ConnectionStatus connection, params JobView[] jobs) =>
        new(1, connection, jobs.ToImmutableDictionary(j => j.JobId), ImmutableList<FeedbackView>.Empty);

    public static ConnectionStatus Ready => new(ConnectionState.Ready, "ready: shapes on CPU (2 threads), rewards caption-test, segments-test", [], Host);

    /// <summary>As <see cref="HostClient"/> words a refused connection (HostInteractionTests checks the real one).</summary>
    public static ConnectionStatus Unreachable => new(ConnectionState.Unreachable,
        "no FineRewards host at http://127.0.0.1:50151 (connection refused): start one with `finerewards serve`, or check the address and port (default 50151)",
        ["connection refused: nothing listens on that port"], null);

    public static ConnectionStatus Missing => new(ConnectionState.MissingModels,
        "host is missing models: pack shapes: missing /data/packs/shapes/unet.safetensors",
        ["pack shapes: missing /data/packs/shapes/unet.safetensors"], Host with { ReadyPacks = [] });

    /// <summary>A host serving the shapes pack and a Stable Diffusion pack whose SAM model is not where its pack.json says.</summary>
    public static ConnectionStatus WithMissingPack => Ready with
    {
        Host = Host with
        {
            Packs =
            [
                .. Host.Packs,
                new PackView("my-sd", false, ["clip", "sam", "random"], ["clip", "sam"], Samplers)
                {
                    State = "missing",
                    Problems = ["sam (onnx-sam): missing /models/sam/onnx/vision_encoder.onnx"],
                    Fix = "put the files back, or point /packs/my-sd/pack.json at them; `finerewards doctor` lists each part",
                },
            ],
        },
    };

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

    public const string TrainingId = "5f0c2a9e-3b1d-4c8e-9a6f-2d7b1e4c8a10";
    static readonly DateTimeOffset T0 = new(2026, 11, 26, 21, 0, 0, TimeSpan.Zero);

    /// <summary>A loss that falls with (seeded) noise, as a LoRA's first steps do.</summary>
    static ImmutableList<LossPoint> Losses(int rounds, int steps)
    {
        var noise = new Random(7);
        return Enumerable.Range(0, rounds * steps).Select(i => new LossPoint(i + 1, i / steps + 1, i % steps + 1, steps,
            0.08 + 0.12 * Math.Exp(-i / 18.0) + 0.03 * (noise.NextDouble() - 0.5))).ToImmutableList();
    }

    static TrainingRoundView Round(int round, double caption, double segments) => new(round, 3, 3, 5 + 3 * round, 30, 0.09,
        new Dictionary<string, double> { ["caption-test"] = caption - 0.1, ["segments-test"] = segments - 0.15 },
        new Dictionary<string, double> { ["caption-test"] = caption, ["segments-test"] = segments });

    /// <summary>Round 3 of 3 training (rounds 1 and 2 finished), on 5 accepted images plus generated best-of-4: loss per step and two rounds' rewards.</summary>
    public static TrainingView RunningTraining => new(TrainingId,
        new TrainingParameters("default", IncludeGenerated: true, Rounds: 3, K: 4, StepsPerImage: 6, Seed: 1), TrainingJobPhase.Running,
        LastSequence: 120, FeedbackPairs: 5, Prompts: 3, Rounds: 3, Round: 3, Phase: "train", Done: 12, Total: 30, EtaSeconds: 9,
        Losses: Losses(2, 30).AddRange(Losses(3, 30).Skip(60).Take(12)),
        FinishedRounds: [Round(1, 0.71, 0.12), Round(2, 0.78, 0.26)]);

    /// <summary>A finished feedback-only round and its registered LoRA.</summary>
    public static TrainingView FinishedTraining => new(TrainingId,
        new TrainingParameters("default", StepsPerImage: 10, Seed: 1), TrainingJobPhase.Completed,
        LastSequence: 60, FeedbackPairs: 4, Rounds: 1, Round: 1, Phase: "train", Done: 40, Total: 40,
        Losses: Losses(1, 40), FinishedRounds: [new TrainingRoundView(1, 0, 0, 4, 40, 0.1, new Dictionary<string, double>(), new Dictionary<string, double>())],
        LoraId: TrainingId, LoraPath: $"/data/loras/{TrainingId}.safetensors");

    /// <summary>The host's check of the finished LoRA: it lowered the segment reward, so the host left it inactive.</summary>
    public static LoraCheckView LoweredCheck => new([("caption-test", 0.8112, 0.8240), ("segments-test", 0.3125, 0.2406)], "lowered", 8, 4, 16, false);

    /// <summary>The finished round whose LoRA lowered a reward, and the LoRAs with it (not active; the older one still is).</summary>
    public static TrainingView FinishedLoweredTraining => FinishedTraining with { Check = LoweredCheck };
    public static ImmutableList<LoraView> LorasAfterLowered =>
        Loras.SetItem(0, Loras[0] with { Active = false, Check = LoweredCheck }).SetItem(1, Loras[1] with { Active = true });

    /// <summary>The host's LoRAs: the finished one (active), an older one of the same profile, one of another profile.</summary>
    public static ImmutableList<LoraView> Loras =>
    [
        new(TrainingId, "default", TrainingId, $"/data/loras/{TrainingId}.safetensors", "9c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455",
            T0.AddMinutes(30), true, new Dictionary<string, double> { ["pairs"] = 4, ["steps"] = 40, ["final_loss"] = Losses(1, 40)[^1].Loss }),
        new("0b7e4d21-8c3a-4f5e-b6d9-1a2c3e4f5a6b", "default", "0b7e4d21-8c3a-4f5e-b6d9-1a2c3e4f5a6b", "/data/loras/0b7e4d21.safetensors",
            "1f2e3d4c5b6a79880716253443526170f1e2d3c4b5a69788796a5b4c3d2e1f00", T0, false, new Dictionary<string, double> { ["pairs"] = 2, ["steps"] = 20, ["final_loss"] = 0.1342 }),
        new("e3a1c9f7-2b4d-4e6f-8a0c-5d7e9f1b3c5a", "alice", "e3a1c9f7-2b4d-4e6f-8a0c-5d7e9f1b3c5a", "/data/loras/e3a1c9f7.safetensors",
            "aa00bb11cc22dd33ee44ff5500661177228833994400aa55bb66cc77dd88ee99", T0.AddMinutes(-90), true, new Dictionary<string, double> { ["pairs"] = 7 }),
    ];
}
