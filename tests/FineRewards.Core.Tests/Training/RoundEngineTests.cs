using FineRewards.Core.Packs;
using System.Globalization;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Ranking;
using FineRewards.Core.Training;

namespace FineRewards.Core.Tests.Training;

public sealed class RoundEngineTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "fr-rounds-" + Guid.NewGuid().ToString("N"));

    public RoundEngineTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Prompts(params string[] lines)
    {
        string path = Path.Combine(dir, $"prompts-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    string DefaultPrompts() => Prompts("a red circle", "# a comment", "", "two blue squares", "a green triangle", "two red circles");

    static TrainingRunOptions Options(string prompts, int rounds = 2, string combine = "arl", double filter = 1.0, string? extra = null,
        params string[] rewards) =>
        new("test-pack", prompts, rounds, 4, rewards.Length == 0 ? ["bright", "second"] : rewards, combine,
            Seed: 7, StepsPerRound: 3, StepsPerImage: null, FilterTop: filter, ExtraData: extra, Previews: 2);

    static JsonNode ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    [Fact]
    public void Selections_follow_the_ranking_of_the_stored_scores()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "run");
        var manifest = new RoundEngine(runtime).Run(Options(DefaultPrompts(), rounds: 1), run, resume: false);

        Assert.Equal(RunManifest.Completed, manifest.Status);
        Assert.Equal(4, manifest.PromptCount);
        for (int p = 0; p < 4; p++)
        {
            var scores = ReadJson(Path.Combine(run, RunLayout.ScoresFile(1, p)));
            var candidates = scores["candidates"]!.AsArray()
                .Select(c => new CandidateScores(c!["index"]!.GetValue<int>().ToString(CultureInfo.InvariantCulture),
                    new Dictionary<string, double> { ["bright"] = c["scores"]!["bright"]!.GetValue<double>(), ["second"] = c["scores"]!["second"]!.GetValue<double>() }))
                .ToList();
            var expected = CandidateRanker.Rank(candidates, CombineMethod.Arl);
            Assert.Equal(expected.Selected, scores["selected"]!.GetValue<int>().ToString(CultureInfo.InvariantCulture));
            Assert.Contains("bright saw", scores["candidates"]![0]!["evidence"]!["bright"]!["caption"]!.GetValue<string>());
            Assert.NotNull(scores["candidates"]![0]!["ground_truth"]!["correct"]);
            var selections = ReadJson(Path.Combine(run, RunLayout.SelectionsFile(1)));
            Assert.Equal(scores["selected"]!.GetValue<int>(), selections["prompts"]![p]!["selected"]!.GetValue<int>());
            for (int c = 0; c < 4; c++) Assert.True(File.Exists(Path.Combine(run, RunLayout.CandidateImage(1, p, c))));
        }
    }

    [Fact]
    public void Single_reward_selection_picks_that_rewards_best_and_opposite_rewards_pick_differently()
    {
        string prompts = DefaultPrompts();
        var bright = new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1, combine: "single:bright", rewards: ["bright", "dark"]), Path.Combine(dir, "b"), false);
        var dark = new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1, combine: "single:dark", rewards: ["bright", "dark"]), Path.Combine(dir, "d"), false);
        for (int p = 0; p < 4; p++)
        {
            var sb = ReadJson(Path.Combine(dir, "b", RunLayout.ScoresFile(1, p)));
            var values = sb["candidates"]!.AsArray().Select(c => c!["scores"]!["bright"]!.GetValue<double>()).ToList();
            Assert.Equal(values.IndexOf(values.Max()), sb["selected"]!.GetValue<int>());
            var sd = ReadJson(Path.Combine(dir, "d", RunLayout.ScoresFile(1, p)));
            Assert.Equal(values.IndexOf(values.Min()), sd["selected"]!.GetValue<int>());
        }
        Assert.True(bright.Rounds[0].Metrics.SelectedMean["bright"] > dark.Rounds[0].Metrics.SelectedMean["bright"]);
    }

    [Fact]
    public void Training_set_is_cumulative_over_rounds_and_each_round_generates_with_the_previous_lora()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "run");
        var manifest = new RoundEngine(runtime).Run(Options(DefaultPrompts(), rounds: 3), run, false);

        var calls = runtime.TestTrainer.Calls;
        Assert.Equal(3, calls.Count);
        Assert.Equal([4, 8, 12], calls.Select(c => c.Prompts.Count));
        Assert.Equal(calls[0].ImageHashes, calls[1].ImageHashes.Take(4));
        Assert.Equal(calls[1].ImageHashes, calls[2].ImageHashes.Take(8));
        Assert.Equal([3, 3, 3], calls.Select(c => c.Options.Steps));
        Assert.Equal(3, calls.Select(c => c.Options.Seed).Distinct().Count());

        // Round 1 generates with the base model, round r with round r-1's checkpoint.
        var byRound = runtime.TestGenerator.Requests.Where(r => r.K == 4).Chunk(4).ToList();
        Assert.All(byRound[0], r => Assert.Null(r.Loras));
        Assert.All(byRound[1], r => Assert.Equal(Path.Combine(run, RunLayout.Checkpoint(1)), r.Loras!.Single().Path));
        Assert.All(byRound[2], r => Assert.Equal(Path.Combine(run, RunLayout.Checkpoint(2)), r.Loras!.Single().Path));
        Assert.Equal([null, "loras/round01.safetensors", "loras/round02.safetensors"], manifest.Rounds.Select(r => r.LoraIn));

        // The LoRA changes what the model draws: the same prompt and seed give other pixels after training.
        var before = PngCodec.Decode(File.ReadAllBytes(Path.Combine(run, RunLayout.Preview(0, 0)))).Image;
        var after = PngCodec.Decode(File.ReadAllBytes(Path.Combine(run, RunLayout.Preview(3, 0)))).Image;
        Assert.NotEqual(before.Pixels, after.Pixels);
        Assert.Equal(before.Pixels[1], after.Pixels[1]); // same seed
    }

    [Fact]
    public void Filter_keeps_the_top_fraction_of_prompts_by_selected_score()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "run");
        var manifest = new RoundEngine(runtime).Run(Options(DefaultPrompts(), rounds: 1, combine: "single:bright", filter: 0.5, rewards: ["bright"]), run, false);

        var selections = ReadJson(Path.Combine(run, RunLayout.SelectionsFile(1)))["prompts"]!.AsArray();
        var scores = selections.Select(s => s!["filter_score"]!.GetValue<double>()).ToList();
        var kept = selections.Where(s => s!["kept"]!.GetValue<bool>()).ToList();
        Assert.Equal(2, kept.Count);
        double threshold = scores.OrderByDescending(s => s).ElementAt(1);
        Assert.All(kept, s => Assert.True(s!["filter_score"]!.GetValue<double>() >= threshold));
        Assert.Equal(2, manifest.Rounds[0].Kept);
        Assert.Equal(kept.Select(s => s!["prompt"]!.GetValue<string>()), runtime.TestTrainer.Calls[0].Prompts);
    }

    [Fact]
    public void Extra_data_pairs_join_every_rounds_training_set()
    {
        string extra = Path.Combine(dir, "extra");
        Directory.CreateDirectory(extra);
        var image = new RgbImage(8, 8, Enumerable.Repeat((byte)200, 192).ToArray());
        ExtraDataFolder.Write(extra, "accepted-1", "a user's red circle", PngCodec.Encode(image), new Dictionary<string, string> { ["source"] = "test" });
        var runtime = new TestDoubleRuntime();
        var manifest = new RoundEngine(runtime).Run(Options(DefaultPrompts(), rounds: 2, extra: extra), Path.Combine(dir, "run"), false);

        Assert.Equal(1, manifest.ExtraPairs);
        Assert.Equal([5, 9], runtime.TestTrainer.Calls.Select(c => c.Prompts.Count));
        Assert.All(runtime.TestTrainer.Calls, c => Assert.Equal("a user's red circle", c.Prompts[^1]));
    }

    [Fact]
    public void Random_selection_is_seeded_and_stays_within_k()
    {
        string prompts = DefaultPrompts();
        new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1, combine: "random"), Path.Combine(dir, "a"), false);
        new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1, combine: "random"), Path.Combine(dir, "b"), false);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "a", RunLayout.SelectionsFile(1))), File.ReadAllText(Path.Combine(dir, "b", RunLayout.SelectionsFile(1))));
        var picks = ReadJson(Path.Combine(dir, "a", RunLayout.SelectionsFile(1)))["prompts"]!.AsArray().Select(p => p!["selected"]!.GetValue<int>()).ToList();
        Assert.All(picks, s => Assert.InRange(s, 0, 3));
    }

    [Theory]
    // Generator calls: 0-1 base previews, 2-5 round 1, 6-7 its previews, 8-11 round 2, 12-13 its previews, 14-17 round 3, 18-19.
    [InlineData(1)]   // during the base model's previews
    [InlineData(3)]   // during round 1's generation
    [InlineData(9)]   // during round 2's generation, with round 1's LoRA
    [InlineData(13)]  // during round 2's previews, after its training
    public void Resume_after_a_kill_gives_the_same_selections_and_run_json_as_an_uninterrupted_run(int killAtCall)
    {
        string prompts = DefaultPrompts();
        var options = Options(prompts, rounds: 3);
        string whole = Path.Combine(dir, "whole");
        new RoundEngine(new TestDoubleRuntime()).Run(options, whole, false);

        string killed = Path.Combine(dir, "killed");
        var first = new TestDoubleRuntime();
        using var kill = new CancellationTokenSource();
        first.TestGenerator.BeforeGenerate = calls => { if (calls == killAtCall) kill.Cancel(); };
        Assert.ThrowsAny<OperationCanceledException>(() => new RoundEngine(first).Run(options, killed, false, kill.Token));
        Assert.Equal(RunManifest.Running, RunManifest.Load(Path.Combine(killed, "run.json")).Status);

        var second = new TestDoubleRuntime();
        new RoundEngine(second).Run(options, killed, resume: true);

        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "run.json")), File.ReadAllBytes(Path.Combine(killed, "run.json")));
        for (int r = 1; r <= 3; r++)
            Assert.Equal(File.ReadAllText(Path.Combine(whole, RunLayout.SelectionsFile(r))), File.ReadAllText(Path.Combine(killed, RunLayout.SelectionsFile(r))));
        // The resumed run did not redo finished prompts: the two processes together made the calls of one whole run (3 x 4 + 4 x 2 previews).
        Assert.Equal(20, first.TestGenerator.Requests.Count + second.TestGenerator.Requests.Count);
    }

    [Fact]
    public void Resume_with_other_options_names_the_difference()
    {
        string prompts = DefaultPrompts();
        string run = Path.Combine(dir, "run");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1), run, false);
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1, combine: "sum"), run, resume: true));
        Assert.Equal("--resume", e.Field);
        Assert.Contains("options.combine", e.Message);
        Assert.Contains("\"arl\"", e.Message);
    }

    [Fact]
    public void A_second_run_into_the_same_folder_needs_resume()
    {
        string prompts = DefaultPrompts();
        string run = Path.Combine(dir, "run");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1), run, false);
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts, rounds: 1), run, false));
        Assert.Contains("--resume", e.Message);
        // Resuming a completed run does nothing more.
        var runtime = new TestDoubleRuntime();
        new RoundEngine(runtime).Run(Options(prompts, rounds: 1), run, true);
        Assert.Empty(runtime.TestGenerator.Requests);
    }

    [Fact]
    public void A_bad_prompts_file_is_refused_with_its_name_and_line()
    {
        string prompts = Prompts("a red circle", "", "is this a prompt?");
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(prompts), Path.Combine(dir, "run"), false));
        Assert.Equal($"{prompts} line 3", e.Field);
        Assert.Contains("question marks", e.Message);

        string tabs = Prompts("a red\tcircle");
        Assert.Equal($"{tabs} line 1", Assert.Throws<InputException>(() => PromptsFile.Read(tabs)).Field);
        string empty = Prompts("# only a comment");
        Assert.Contains("no prompts", Assert.Throws<InputException>(() => PromptsFile.Read(empty)).Message);
        string binary = Path.Combine(dir, "binary.txt");
        File.WriteAllBytes(binary, [0x61, 0xff, 0xfe, 0x0a]);
        Assert.Contains("not UTF-8", Assert.Throws<InputException>(() => PromptsFile.Read(binary)).Message);
        Assert.Contains("does not exist", Assert.Throws<InputException>(() => PromptsFile.Read(Path.Combine(dir, "missing.txt"))).Message);
    }

    [Fact]
    public void Bad_options_name_the_option()
    {
        string prompts = DefaultPrompts();
        var engine = new RoundEngine(new TestDoubleRuntime());
        Assert.Equal("--k", Assert.Throws<InputException>(() => engine.Run(Options(prompts) with { K = 0 }, Path.Combine(dir, "a"), false)).Field);
        Assert.Equal("--filter-top", Assert.Throws<InputException>(() => engine.Run(Options(prompts, filter: 1.5), Path.Combine(dir, "a"), false)).Field);
        Assert.Equal("--steps-per-round", Assert.Throws<InputException>(() => engine.Run(Options(prompts) with { StepsPerImage = 2 }, Path.Combine(dir, "a"), false)).Field);
        Assert.Equal("--combine", Assert.Throws<InputException>(() => engine.Run(Options(prompts, combine: "single:dark"), Path.Combine(dir, "a"), false)).Field);
        Assert.Contains("has no reward \"sam\"", Assert.Throws<InputException>(() => engine.Run(Options(prompts, rewards: ["bright", "sam"]), Path.Combine(dir, "a"), false)).Message);
    }

    [Fact]
    public void Run_json_is_complete_json_whenever_progress_is_reported_and_no_temporary_file_is_left()
    {
        string run = Path.Combine(dir, "run");
        var watcher = new ManifestWatcher(Path.Combine(run, "run.json"));
        new RoundEngine(new TestDoubleRuntime(), watcher).Run(Options(DefaultPrompts(), rounds: 2), run, false);
        Assert.True(watcher.Reads > 10);
        Assert.Equal([1, 2], watcher.RoundsSeen.Distinct());
        Assert.Empty(Directory.GetFiles(run, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Steps_per_image_scale_with_the_cumulative_set_and_metrics_report_accuracy()
    {
        var runtime = new TestDoubleRuntime();
        var manifest = new RoundEngine(runtime).Run(Options(DefaultPrompts(), rounds: 2) with { StepsPerRound = null, StepsPerImage = 2 }, Path.Combine(dir, "run"), false);
        Assert.Equal([8, 16], runtime.TestTrainer.Calls.Select(c => c.Options.Steps));
        var defaults = new TestDoubleRuntime();
        new RoundEngine(defaults).Run(Options(DefaultPrompts(), rounds: 1) with { StepsPerRound = null }, Path.Combine(dir, "defaults"), false);
        Assert.Equal(TrainingRunOptions.DefaultStepsPerImage * 4, defaults.TestTrainer.Calls.Single().Options.Steps);
        var m = manifest.Rounds[0].Metrics;
        Assert.NotNull(m.Overall);
        Assert.Equal(4, m.Overall!.Prompts);
        Assert.Equal(["counting", "single"], m.ByTask!.Keys);
        Assert.InRange(m.Overall.Accuracy, 0, 1);
        Assert.True(m.Overall.AnyCorrect >= m.Overall.SelectedAccuracy);
        Assert.Equal(1.0 / 8, manifest.Rounds[0].FinalLoss);
    }

    [Fact]
    public void Registry_names_the_pack_when_no_engine_is_registered()
    {
        var registry = new PackRegistry().Register("test-pack", () => new TestDoubleRuntime());
        var e = Assert.Throws<InputException>(() => registry.Resolve("shapes"));
        Assert.Contains("pack \"shapes\"", e.Message);
        Assert.Contains("test-pack", e.Message);
        Assert.Equal("test-pack", registry.Resolve("test-pack").Name);
    }

    sealed class ManifestWatcher(string path) : IRunProgress
    {
        public int Reads;
        public List<int> RoundsSeen { get; } = [];
        void Check()
        {
            if (!File.Exists(path)) return;
            RunManifest.Load(path);
            Reads++;
        }
        public void PhaseStarted(int round, RunPhase phase, int total) => Check();
        public void PhaseAdvanced(int round, RunPhase phase, int done, int total) => Check();
        public void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed) => Check();
        public void TrainingStep(int round, TrainingProgress step) => Check();
        public void RoundFinished(RoundRecord record) { Check(); RoundsSeen.Add(record.Round); }
        public void Message(string line) { }
    }
}
