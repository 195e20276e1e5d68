using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Core.Training;

namespace FineRewards.Core.Tests.Ranking;

public sealed class BestOfKTests
{
    /// <summary>Candidate i's pixel 0 is (seed * 37) mod 256; reports two sampler steps per call, as a real generator does.</summary>
    sealed class SeedGenerator : IImageGenerator
    {
        public string Name => "seed-generator";
        public List<GenerationRequest> Requests { get; } = [];

        public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Requests.Add(request);
            for (int step = 1; step <= 2; step++) progress?.Report(new GenerationProgress(step, 2, step == 2 ? request.K : 0, request.K));
            return Enumerable.Range(0, request.K).Reverse() // out of order on purpose: the operation orders them
                .Select(i =>
                {
                    long seed = request.BaseSeed + i;
                    var pixels = new byte[2 * 2 * 3];
                    pixels[0] = (byte)(seed * 37 % 256);
                    pixels[1] = (byte)(seed % 7);
                    var provenance = new Dictionary<string, string> { ["k"] = $"{request.K}", ["base_seed"] = $"{request.BaseSeed}", ["candidate_index"] = $"{i}", ["model"] = "m" };
                    return new GeneratedCandidate(i, seed, new RgbImage(2, 2, pixels), provenance, CandidateLatents.Create([seed], 1, 1, 1));
                }).ToList();
        }
    }

    /// <summary>Scores one pixel; its evidence names the pixel it saw. Records each call.</summary>
    sealed class PixelReward(string name, int pixel, Func<RgbImage, double>? score = null) : IReward
    {
        public string Name => name;
        public string Version => "1";
        public List<int> Calls { get; } = [];
        public Func<RgbImage, double> ScoreOf { get; set; } = score ?? (i => i.Pixels[pixel] / 255.0);
        public Action? OnScore { get; set; }

        public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
        {
            Calls.Add(images.Count);
            OnScore?.Invoke();
            return images.Select(i => new RewardScore(name, ScoreOf(i), new RewardEvidence(Caption: $"{name} saw {i.Pixels[pixel]} for {prompt}", Flags: ["f"]))).ToList();
        }
    }

    static GenerationRequest Request(int k = 6, long seed = 100) => new("a red circle", k, seed, Width: 2, Height: 2);

    [Fact]
    public void Ranks_every_candidate_under_every_reward_as_the_ranker_does_and_keeps_candidate_order()
    {
        var rewards = new IReward[] { new PixelReward("bright", 0), new PixelReward("mod", 1) };
        var result = BestOfK.Run(new SeedGenerator(), rewards, Request(), new BestOfKSettings(CombineMethod.Arl, Id: i => $"c{i}"));

        Assert.Equal(["c0", "c1", "c2", "c3", "c4", "c5"], result.Candidates.Select(c => c.Id));
        var expected = CandidateRanker.Rank(result.Candidates.Select(c => new CandidateScores(c.Id, new Dictionary<string, double>
        {
            ["bright"] = c.Image.Pixels[0] / 255.0, ["mod"] = c.Image.Pixels[1] / 255.0,
        })).ToList(), CombineMethod.Arl);
        Assert.Equal(expected.Order, result.Ranking!.Order);
        Assert.Equal(expected.Candidates.Select(c => c.Total), result.Ranking.Candidates.Select(c => c.Total));
        Assert.Equal(1, result.Place(expected.Selected));
        Assert.True(result.IsSelected(expected.Selected));
        // Not a fixed order that any input would give: the best by the seed-derived pixels is not candidate 0.
        Assert.NotEqual("c0", result.Ranking.Selected);
    }

    [Fact]
    public void Each_candidate_keeps_its_own_evidence_and_what_generated_it()
    {
        var result = BestOfK.Run(new SeedGenerator(), [new PixelReward("bright", 0)], Request(k: 4, seed: 7), new BestOfKSettings(CombineMethod.Sum));

        foreach (var c in result.Candidates)
        {
            var g = c.Generated!;
            Assert.Equal(7 + g.Index, g.Seed);
            Assert.Same(g.Image, c.Image);
            Assert.Equal([(float)g.Seed], g.Latents!.Data);
            var s = c.Scores["bright"];
            Assert.Equal($"bright saw {c.Image.Pixels[0]} for a red circle", s.Evidence.Caption);
            Assert.Equal(["f"], s.Evidence.Flags);
            Assert.Equal(c.Image.Pixels[0] / 255.0, s.Score);
        }
    }

    [Fact]
    public void A_reward_that_fails_fails_the_operation_with_its_own_error_and_nothing_is_ranked()
    {
        var good = new PixelReward("bright", 0);
        var bad = new PixelReward("bad", 0, i => i.Pixels[0] == (byte)(102 * 37 % 256) ? throw new InvalidDataException("cannot read candidate 2") : 0.5);
        bool ranked = false, generated = false;
        var hooks = new BestOfKHooks { Generated = _ => generated = true, BeforeRanking = s => { ranked = true; return s; } };

        var e = Assert.Throws<InvalidDataException>(() => BestOfK.Run(new SeedGenerator(), [good, bad], Request(), new BestOfKSettings(CombineMethod.Arl), hooks));
        Assert.Equal("cannot read candidate 2", e.Message);
        Assert.True(generated);   // the caller had its candidates (and can wait for its writes)
        Assert.False(ranked);
    }

    [Fact]
    public void A_non_finite_score_for_one_candidate_is_an_error_naming_the_candidate_and_the_reward()
    {
        var nan = new PixelReward("nan", 0, i => i.Pixels[0] == (byte)(101 * 37 % 256) ? double.NaN : 1);
        var e = Assert.Throws<InputException>(() =>
            BestOfK.Run(new SeedGenerator(), [nan], Request(), new BestOfKSettings(CombineMethod.Arl, Field: "prompts[3].candidates")));
        Assert.Equal("prompts[3].candidates[1].scores.nan", e.Field);
    }

    [Fact]
    public void A_reward_returning_the_wrong_number_of_scores_is_named()
    {
        var reward = new ShortReward();
        var e = Assert.Throws<InvalidOperationException>(() => BestOfK.Run(new SeedGenerator(), [reward], Request(k: 3), new BestOfKSettings(CombineMethod.Arl)));
        Assert.Equal("reward short returned 2 scores for 3 images", e.Message);
    }

    sealed class ShortReward : IReward
    {
        public string Name => "short";
        public string Version => "1";
        public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
            images.Skip(1).Select(_ => new RewardScore("short", 0, new RewardEvidence())).ToList();
    }

    [Fact]
    public void Hooks_are_called_in_order_with_generation_progress_and_each_reward()
    {
        var calls = new List<string>();
        var a = new PixelReward("a", 0) { OnScore = () => calls.Add("score a") };
        var b = new PixelReward("b", 1) { OnScore = () => calls.Add("score b") };
        var hooks = new BestOfKHooks
        {
            Progress = new Sync<GenerationProgress>(p => calls.Add($"step {p.Step}/{p.Steps} {p.CandidatesDone}/{p.Candidates}")),
            Generated = g => calls.Add($"generated {g.Count}"),
            Include = c => { calls.Add($"include {c.Index}"); return true; },
            RewardScored = (name, done, total) => calls.Add($"scored {name} {done}/{total}"),
            BeforeRanking = s => { calls.Add($"rank {s.Count}"); return s; },
        };
        BestOfK.Run(new SeedGenerator(), [a, b], Request(k: 2), new BestOfKSettings(CombineMethod.Arl), hooks);

        Assert.Equal([
            "step 1/2 0/2", "step 2/2 2/2", "generated 2", "include 0", "include 1",
            "score a", "scored a 1/2", "score b", "scored b 2/2", "rank 2",
        ], calls);
    }

    [Fact]
    public void Cancelled_after_generation_no_reward_runs()
    {
        using var cts = new CancellationTokenSource();
        var reward = new PixelReward("bright", 0);
        Assert.ThrowsAny<OperationCanceledException>(() => BestOfK.Run(new SeedGenerator(), [reward], Request(), new BestOfKSettings(CombineMethod.Arl),
            new BestOfKHooks { Generated = _ => cts.Cancel() }, cts.Token));
        Assert.Empty(reward.Calls);
    }

    [Fact]
    public void Cancelled_while_a_reward_runs_the_next_reward_does_not_run()
    {
        using var cts = new CancellationTokenSource();
        var first = new PixelReward("first", 0) { OnScore = cts.Cancel };
        var second = new PixelReward("second", 0);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            BestOfK.Run(new SeedGenerator(), [first, second], Request(), new BestOfKSettings(CombineMethod.Arl), cancellationToken: cts.Token));
        Assert.Single(first.Calls);
        Assert.Empty(second.Calls);
    }

    [Fact]
    public void Skipped_candidates_are_not_generated_and_the_others_keep_their_seeds_and_provenance()
    {
        var generator = new SeedGenerator();
        var progress = new List<GenerationProgress>();
        var result = BestOfK.Run(generator, [new PixelReward("bright", 0)], Request(k: 6, seed: 100), new BestOfKSettings(CombineMethod.Arl),
            new BestOfKHooks { Wanted = [0, 1, 3, 5], Progress = new Sync<GenerationProgress>(progress.Add) });

        Assert.Equal([(2, 100L), (1, 103L), (1, 105L)], generator.Requests.Select(r => (r.K, r.BaseSeed)));
        Assert.Equal([0, 1, 3, 5], result.Candidates.Select(c => c.Generated!.Index));
        Assert.Equal(["0", "1", "3", "5"], result.Candidates.Select(c => c.Id));
        Assert.Equal([100L, 101, 103, 105], result.Candidates.Select(c => c.Generated!.Seed));
        var third = result.Candidates[2].Generated!.Provenance;
        Assert.Equal(("6", "100", "3", "m"), (third["k"], third["base_seed"], third["candidate_index"], third["model"]));
        // Progress counts candidates of the whole request, not of each run.
        Assert.Equal([(0, 4), (2, 4), (2, 4), (3, 4), (3, 4), (4, 4)], progress.Select(p => (p.CandidatesDone, p.Candidates)));
    }

    [Fact]
    public void Candidates_left_out_before_scoring_or_dropped_before_ranking_are_not_ranked()
    {
        var reward = new PixelReward("bright", 0);
        var result = BestOfK.Run(new SeedGenerator(), [reward], Request(k: 5), new BestOfKSettings(CombineMethod.Arl), new BestOfKHooks
        {
            Include = c => c.Index != 1,
            BeforeRanking = s => s.Where(c => c.Id != "4").ToList(),
        });
        Assert.Equal([4], reward.Calls);
        Assert.Equal(["0", "2", "3"], result.Candidates.Select(c => c.Id));
        Assert.Equal(["0", "2", "3"], result.Ranking!.Order.Order());
    }

    [Fact]
    public void Without_rewards_or_settings_nothing_is_ranked()
    {
        bool ranked = false;
        var hooks = new BestOfKHooks { BeforeRanking = s => { ranked = true; return s; } };
        var none = BestOfK.Run(new SeedGenerator(), [], Request(k: 3), new BestOfKSettings(CombineMethod.Arl), hooks);
        Assert.Null(none.Ranking);
        Assert.Equal(3, none.Candidates.Count);
        Assert.All(none.Candidates, c => Assert.Empty(c.Scores));

        var unranked = BestOfK.Run(new SeedGenerator(), [new PixelReward("bright", 0)], Request(k: 3), settings: null, hooks);
        Assert.Null(unranked.Ranking);
        Assert.All(unranked.Candidates, c => Assert.Single(c.Scores));
        Assert.False(ranked);
        Assert.Equal(0, unranked.Place("0"));
    }

    [Fact]
    public void A_generator_that_returns_other_candidates_than_asked_is_named()
    {
        var e = Assert.Throws<InvalidOperationException>(() => BestOfK.Generate(new DroppingGenerator(), Request(k: 3)));
        Assert.Equal("generator dropping returned candidates 0,1 for 0,1,2 (K=3)", e.Message);
    }

    sealed class DroppingGenerator : IImageGenerator
    {
        public string Name => "dropping";
        public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default) =>
            Enumerable.Range(0, request.K - 1).Select(i => new GeneratedCandidate(i, i, new RgbImage(1, 1, new byte[3]), new Dictionary<string, string>())).ToList();
    }

    [Fact]
    public void Score_and_rank_of_given_images_uses_the_names_it_is_given()
    {
        var images = new[] { ("x", new RgbImage(1, 1, [10, 0, 0])), ("y", new RgbImage(1, 1, [200, 0, 0])) };
        var result = BestOfK.ScoreAndRank([("renamed", new PixelReward("bright", 0))], "p", images, new BestOfKSettings(CombineMethod.Arl));
        Assert.Equal(["y", "x"], result.Ranking!.Order);
        Assert.Equal("bright", result.Candidates[0].Scores["renamed"].Reward);
        Assert.Null(result.Candidates[0].Generated);
    }

    [Fact]
    public void Request_carries_the_pack_settings()
    {
        var g = new GenerationSettings("euler", 9, 3.5, 32, 16, "blurry");
        var loras = new[] { new LoraReference("l.safetensors", 0.5) };
        Assert.Equal(new GenerationRequest("p", 4, 11, "blurry", "euler", 9, 3.5, 32, 16, loras), BestOfK.Request(g, "p", 4, 11, loras));
    }

    sealed class Sync<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
