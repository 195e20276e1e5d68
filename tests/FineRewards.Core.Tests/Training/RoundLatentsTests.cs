using FineRewards.Core.Packs;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Training;

namespace FineRewards.Core.Tests.Training;

/// <summary>Issue 18: generated candidates keep their latents, and rounds train on them instead of re-encoding PNGs.</summary>
public sealed class RoundLatentsTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "fr-latents-" + Guid.NewGuid().ToString("N"));

    public RoundLatentsTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Prompts()
    {
        string path = Path.Combine(dir, "prompts.txt");
        File.WriteAllText(path, "a red circle\ntwo blue squares\na green triangle\ntwo red circles\n");
        return path;
    }

    TrainingRunOptions Options(string combine = "arl", string trainOn = TrainingRunOptions.TrainOnLatents, int rounds = 1, string? extra = null) =>
        new("test-pack", Prompts(), rounds, 4, ["bright", "second"], combine, Seed: 7, StepsPerRound: 3, Previews: 0, TrainOn: trainOn, ExtraData: extra);

    static JsonNode ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    [Fact]
    public void Every_candidate_has_a_latent_file_whose_hash_is_in_candidates_json()
    {
        string run = Path.Combine(dir, "run");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(), run, false);
        for (int p = 0; p < 4; p++)
        {
            var candidates = ReadJson(Path.Combine(run, RunLayout.CandidatesFile(1, p)))["candidates"]!.AsArray();
            foreach (var c in candidates)
            {
                int i = c!["index"]!.GetValue<int>();
                string file = Path.Combine(run, RunLayout.CandidateLatents(1, p, i));
                Assert.Equal(Path.GetFileName(file), c["latents"]!.GetValue<string>());
                var latents = LatentFile.Read(file, c["latents_sha256"]!.GetValue<string>());
                Assert.Equal(c["seed"]!.GetValue<long>() % 1000, (long)latents.Data[0]);
                Assert.Equal((1, 2, 2), (latents.Channels, latents.Height, latents.Width));
            }
        }
    }

    [Fact]
    public void The_trainer_gets_each_selected_candidates_own_latents_and_with_train_on_images_none()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "latents");
        new RoundEngine(runtime).Run(Options(), run, false);
        var call = runtime.TestTrainer.Calls.Single();
        var selections = ReadJson(Path.Combine(run, RunLayout.SelectionsFile(1)))["prompts"]!.AsArray();
        for (int p = 0; p < 4; p++)
        {
            int selected = selections[p]!["selected"]!.GetValue<int>();
            long seed = ReadJson(Path.Combine(run, RunLayout.CandidatesFile(1, p)))["candidates"]![selected]!["seed"]!.GetValue<long>();
            Assert.Equal(seed % 1000, (long)call.Latents[p]!.Data[0]);
        }

        var images = new TestDoubleRuntime();
        new RoundEngine(images).Run(Options(trainOn: TrainingRunOptions.TrainOnImages), Path.Combine(dir, "images"), false);
        Assert.All(images.TestTrainer.Calls.Single().Latents, Assert.Null);
        Assert.Equal(call.ImageHashes, images.TestTrainer.Calls.Single().ImageHashes);
    }

    [Fact]
    public void A_latent_file_changed_after_it_was_recorded_is_refused_by_name()
    {
        string run = Path.Combine(dir, "run");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(rounds: 1), run, false);
        var selected = ReadJson(Path.Combine(run, RunLayout.SelectionsFile(1)))["prompts"]![0]!["selected"]!.GetValue<int>();
        string file = Path.Combine(run, RunLayout.CandidateLatents(1, 0, selected));
        LatentFile.Write(file, CandidateLatents.Create([9, 9, 9, 9], 1, 2, 2));
        File.Delete(Path.Combine(run, RunManifest.FileName));
        File.Delete(Path.Combine(run, RunLayout.Checkpoint(1)));
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(rounds: 1), run, resume: true));
        Assert.Contains(Path.GetFileName(file), e.Message);
        Assert.Contains("SHA-256", e.Message);
    }

    /// <summary>A pair that names a rejected image is a preference for dpo and the image alone for raft; dpo leaves out pairs without one.</summary>
    [Fact]
    public void Extra_data_pairs_with_a_rejected_image_are_preferences_for_dpo()
    {
        string extra = Path.Combine(dir, "extra-pref");
        Directory.CreateDirectory(extra);
        var kept = new RgbImage(8, 8, Enumerable.Repeat((byte)200, 192).ToArray());
        var turnedDown = new RgbImage(8, 8, Enumerable.Repeat((byte)30, 192).ToArray());
        ExtraDataFolder.Write(extra, "accepted", "a red circle", PngCodec.Encode(kept), latents: CandidateLatents.Create([1, 2, 3, 4], 1, 2, 2),
            rejected: (PngCodec.Encode(turnedDown), CandidateLatents.Create([5, 6, 7, 8], 1, 2, 2)));
        ExtraDataFolder.Write(extra, "uploaded", "a red circle", PngCodec.Encode(kept));
        Assert.Equal("accepted.rejected.png", ReadJson(Path.Combine(extra, "accepted.json"))["rejected"]!.GetValue<string>());

        var dpo = new TestDoubleRuntime();
        new RoundEngine(dpo).Run(Options(extra: extra) with { Objective = LoraObjectives.Dpo }, Path.Combine(dir, "run-dpo"), false);
        var call = dpo.TestTrainer.Calls.Single();
        Assert.Equal(5, call.Rejected.Count);  // four prompts' ranked pairs, the one extra pair with a rejected image
        Assert.Equal([1f, 2, 3, 4], call.Latents[^1]!.Data);
        Assert.Equal([5f, 6, 7, 8], call.Rejected[^1]!.Latents!.Data);
        Assert.Equal(turnedDown.Pixels, call.Rejected[^1]!.Image.Pixels);

        var raft = new TestDoubleRuntime();
        new RoundEngine(raft).Run(Options(extra: extra), Path.Combine(dir, "run-raft"), false);
        var raftCall = raft.TestTrainer.Calls.Single();
        Assert.Equal(6, raftCall.Latents.Count);  // four picks and both extra pairs
        Assert.All(raftCall.Rejected, r => Assert.Null(r));

        // Without any rejected image there is nothing for dpo to prefer: refused with the folder named.
        string plain = Path.Combine(dir, "extra-plain");
        Directory.CreateDirectory(plain);
        ExtraDataFolder.Write(plain, "uploaded", "a red circle", PngCodec.Encode(kept));
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(extra: plain) with { Objective = LoraObjectives.Dpo }, Path.Combine(dir, "run-plain"), false));
        Assert.Equal("--extra-data", e.Field);

        // A "rejected" that is not an image beside it is named.
        File.WriteAllText(Path.Combine(plain, "uploaded.json"), "{\"prompt\": \"a red circle\", \"rejected\": \"../x.rejected.png\"}");
        Assert.EndsWith("uploaded.json: rejected", Assert.Throws<InputException>(() => ExtraDataFolder.Read(plain)).Field);
    }

    [Fact]
    public void Extra_data_with_a_latent_file_brings_its_latents()
    {
        string extra = Path.Combine(dir, "extra");
        Directory.CreateDirectory(extra);
        var image = new RgbImage(8, 8, Enumerable.Repeat((byte)200, 192).ToArray());
        ExtraDataFolder.Write(extra, "generated", "a red circle", PngCodec.Encode(image), latents: CandidateLatents.Create([1, 2, 3, 4], 1, 2, 2));
        ExtraDataFolder.Write(extra, "uploaded", "a red circle", PngCodec.Encode(image));
        var runtime = new TestDoubleRuntime();
        new RoundEngine(runtime).Run(Options(extra: extra), Path.Combine(dir, "run"), false);
        var latents = runtime.TestTrainer.Calls.Single().Latents;
        Assert.Equal([1f, 2, 3, 4], latents[^2]!.Data);
        Assert.Null(latents[^1]);
    }

    [Fact]
    public void Oracle_selects_a_correct_candidate_and_drops_prompts_without_one()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "run");
        var manifest = new RoundEngine(runtime).Run(Options(combine: "oracle"), run, false);
        var selections = ReadJson(Path.Combine(run, RunLayout.SelectionsFile(1)))["prompts"]!.AsArray();
        int kept = 0;
        for (int p = 0; p < 4; p++)
        {
            var scores = ReadJson(Path.Combine(run, RunLayout.ScoresFile(1, p)));
            var correct = scores["candidates"]!.AsArray().Select(c => c!["ground_truth"]!["correct"]!.GetValue<bool>()).ToList();
            bool selectedCorrect = correct[scores["selected"]!.GetValue<int>()];
            Assert.Equal(correct.Any(x => x), selectedCorrect);
            Assert.Equal(selectedCorrect, selections[p]!["kept"]!.GetValue<bool>());
            if (selectedCorrect) kept++;
        }
        Assert.Equal(kept, manifest.Rounds[0].Kept);
        Assert.Equal(manifest.Rounds[0].Metrics.Overall!.AnyCorrect, manifest.Rounds[0].Metrics.Overall!.SelectedAccuracy);
    }

    [Fact]
    public void Oracle_needs_a_pack_with_a_ground_truth()
    {
        var e = Assert.Throws<InputException>(() => new RoundEngine(new NoTruthRuntime()).Run(Options(combine: "oracle"), Path.Combine(dir, "run"), false));
        Assert.Equal("--pack", e.Field);
    }

    [Fact]
    public void Candidates_copied_from_a_run_with_another_rule_are_reselected_without_scoring_again()
    {
        string arl = Path.Combine(dir, "arl");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(), arl, false);
        string random = Path.Combine(dir, "random");
        Directory.CreateDirectory(Path.Combine(random, "rounds"));
        CopyFolder(Path.Combine(arl, "rounds"), Path.Combine(random, "rounds"));
        File.Delete(Path.Combine(random, RunLayout.SelectionsFile(1)));

        var counting = new CountingRuntime();
        new RoundEngine(counting).Run(Options(combine: "random"), random, resume: true);
        Assert.Equal(0, counting.Scored);
        Assert.Empty(counting.TestGenerator.Requests);
        var fresh = Path.Combine(dir, "fresh");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(combine: "random"), fresh, false);
        for (int p = 0; p < 4; p++)
            Assert.Equal(ReadJson(Path.Combine(fresh, RunLayout.ScoresFile(1, p))).ToJsonString(), ReadJson(Path.Combine(random, RunLayout.ScoresFile(1, p))).ToJsonString());
    }

    [Fact]
    public void Candidates_copied_from_a_run_with_other_rewards_and_the_same_rule_are_scored_again()
    {
        string first = Path.Combine(dir, "bright-second");
        new RoundEngine(new TestDoubleRuntime()).Run(Options(), first, false);
        string other = Path.Combine(dir, "bright-dark");
        Directory.CreateDirectory(Path.Combine(other, "rounds"));
        CopyFolder(Path.Combine(first, "rounds"), Path.Combine(other, "rounds"));
        File.Delete(Path.Combine(other, RunLayout.SelectionsFile(1)));

        var counting = new CountingRuntime();
        var options = Options() with { Rewards = ["bright", "dark"] };
        new RoundEngine(counting).Run(options, other, resume: true);
        Assert.Equal(2 * 4 * 4, counting.Scored);
        Assert.Empty(counting.TestGenerator.Requests);
        for (int p = 0; p < 4; p++)
        {
            var scores = ReadJson(Path.Combine(other, RunLayout.ScoresFile(1, p)));
            Assert.Equal(["bright", "dark"], scores["rewards"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()));
            Assert.NotNull(scores["candidates"]![0]!["scores"]!["dark"]);
        }
    }

    /// <summary>dpo pairs each kept candidate with its prompt's last-ranked one (under the oracle, the last wrong one).</summary>
    [Fact]
    public void Dpo_pairs_each_kept_candidate_with_the_last_ranked_one_of_its_prompt()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "dpo");
        new RoundEngine(runtime).Run(Options() with { Objective = LoraObjectives.Dpo }, run, false);
        var call = runtime.TestTrainer.Calls.Single();
        Assert.Equal(LoraObjectives.Dpo, call.Options.Objective);
        Assert.Equal(TrainingRunOptions.DefaultDpoBeta, call.Options.DpoBeta);
        Assert.Equal(4, call.Rejected.Count);
        for (int p = 0; p < 4; p++)
        {
            var scores = ReadJson(Path.Combine(run, RunLayout.ScoresFile(1, p)));
            var order = scores["ranking"]!["order"]!.AsArray().Select(x => int.Parse(x!.GetValue<string>())).ToList();
            Assert.Equal(order[0], scores["selected"]!.GetValue<int>());
            int last = order[^1];
            long seed = ReadJson(Path.Combine(run, RunLayout.CandidatesFile(1, p)))["candidates"]![last]!["seed"]!.GetValue<long>();
            Assert.Equal(seed % 1000, (long)call.Rejected[p]!.Latents!.Data[0]);
            var image = PngCodec.Read(Path.Combine(run, RunLayout.CandidateImage(1, p, last)));
            Assert.Equal(image.Pixels, call.Rejected[p]!.Image.Pixels);
        }

        // --dpo-pairs 3 at K = 4: the pick against the last, the second against the third; the third would face the second.
        var more = new TestDoubleRuntime();
        string run2 = Path.Combine(dir, "dpo-pairs");
        new RoundEngine(more).Run(Options() with { Objective = LoraObjectives.Dpo, DpoPairs = 3 }, run2, false);
        var pairs = more.TestTrainer.Calls.Single();
        Assert.Equal(8, pairs.Rejected.Count);
        for (int p = 0; p < 4; p++)
        {
            var order = ReadJson(Path.Combine(run2, RunLayout.ScoresFile(1, p)))["ranking"]!["order"]!.AsArray().Select(x => int.Parse(x!.GetValue<string>())).ToList();
            var seeds = ReadJson(Path.Combine(run2, RunLayout.CandidatesFile(1, p)))["candidates"]!.AsArray().Select(c => c!["seed"]!.GetValue<long>() % 1000).ToList();
            Assert.Equal([seeds[order[0]], seeds[order[3]], seeds[order[1]], seeds[order[2]]],
                new[] { pairs.Latents[2 * p]!.Data[0], pairs.Rejected[2 * p]!.Latents!.Data[0], pairs.Latents[2 * p + 1]!.Data[0], pairs.Rejected[2 * p + 1]!.Latents!.Data[0] }.Select(x => (long)x));
        }
        Assert.Equal("--dpo-pairs", Assert.Throws<InputException>(() => (Options() with { Objective = LoraObjectives.Dpo, DpoPairs = 0 }).Validate()).Field);
        Assert.Equal("--objective", Assert.Throws<InputException>(() => (Options() with { Objective = "ppo" }).Validate()).Field);
        Assert.Equal("--dpo-beta", Assert.Throws<InputException>(() => (Options() with { Objective = LoraObjectives.Dpo, DpoBeta = 0 }).Validate()).Field);
    }

    /// <summary>The random baseline's dpo prefers its pick to another candidate of the prompt, drawn by the run's seed.</summary>
    [Fact]
    public void Dpo_with_random_selection_prefers_the_pick_to_a_seeded_random_other_candidate()
    {
        var rejected = new List<List<long>>();
        foreach (long seed in new long[] { 5, 5, 6 })
        {
            var runtime = new TestDoubleRuntime();
            string run = Path.Combine(dir, $"dpo-random-{rejected.Count}");
            new RoundEngine(runtime).Run(Options("random") with { Objective = LoraObjectives.Dpo, Seed = seed }, run, false);
            var call = runtime.TestTrainer.Calls.Single();
            Assert.Equal(4, call.Rejected.Count);
            var seeds = new List<long>();
            for (int p = 0; p < 4; p++)
            {
                var candidates = ReadJson(Path.Combine(run, RunLayout.CandidatesFile(1, p)))["candidates"]!.AsArray().Select(c => c!["seed"]!.GetValue<long>() % 1000).ToList();
                int selected = ReadJson(Path.Combine(run, RunLayout.ScoresFile(1, p)))["selected"]!.GetValue<int>();
                long winner = (long)call.Latents[p]!.Data[0], loser = (long)call.Rejected[p]!.Latents!.Data[0];
                Assert.Equal(candidates[selected], winner);
                Assert.Contains(loser, candidates);
                Assert.NotEqual(winner, loser);
                seeds.Add(candidates.IndexOf(loser));
            }
            rejected.Add(seeds);
        }
        Assert.Equal(rejected[0], rejected[1]);     // the same run seed rejects the same candidates
        Assert.NotEqual(rejected[0], rejected[2]);  // another seed, others
    }

    [Fact]
    public void New_trainer_options_are_checked_by_name_and_the_cosine_schedule_decays_to_zero()
    {
        Assert.Equal("--prompt-dropout", Assert.Throws<InputException>(() => (Options() with { PromptDropout = 1 }).Validate()).Field);
        Assert.Equal("--lr-schedule", Assert.Throws<InputException>(() => (Options() with { LrSchedule = "step" }).Validate()).Field);
        Assert.Equal("--train-on", Assert.Throws<InputException>(() => (Options() with { TrainOn = "pngs" }).Validate()).Field);
        Assert.Equal("--lora-targets", Assert.Throws<InputException>(() => (Options() with { LoraTargets = "conv" }).Validate()).Field);
        Assert.Equal("--min-timestep", Assert.Throws<InputException>(() => (Options() with { MinTimestep = 1 }).Validate()).Field);
        var cosine = new LoraTrainingOptions(LearningRate: 1e-3, Steps: 10, LearningRateSchedule: "cosine");
        Assert.Equal(1e-3, cosine.LearningRateAt(0), 12);
        Assert.Equal(5e-4, cosine.LearningRateAt(5), 12);
        Assert.True(cosine.LearningRateAt(9) < 3e-5);
        Assert.Equal(1e-3, (cosine with { LearningRateSchedule = "constant" }).LearningRateAt(9), 12);
    }

    [Fact]
    public void The_lora_targets_reach_the_trainer_and_run_json_and_a_resume_must_keep_them()
    {
        var runtime = new TestDoubleRuntime();
        string run = Path.Combine(dir, "targets");
        new RoundEngine(runtime).Run(Options(rounds: 2) with { LoraTargets = LoraTargets.UNet }, run, false);
        Assert.All(runtime.TestTrainer.Calls, c => Assert.Equal(LoraTargets.UNet, c.Options.Targets));
        Assert.Equal("unet", ReadJson(Path.Combine(run, RunManifest.FileName))["options"]!["lora_targets"]!.GetValue<string>());
        var e = Assert.Throws<InputException>(() => new RoundEngine(new TestDoubleRuntime()).Run(Options(rounds: 2), run, resume: true));
        Assert.Contains("lora_targets", e.Message);

        // Without the option a run trains the attention projections, as before.
        var defaults = new TestDoubleRuntime();
        new RoundEngine(defaults).Run(Options(), Path.Combine(dir, "default-targets"), false);
        Assert.Equal(LoraTargets.Attention, defaults.TestTrainer.Calls.Single().Options.Targets);
    }

    static void CopyFolder(string from, string to)
    {
        foreach (var d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to));
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to));
    }

    sealed class NoTruthRuntime : IModelPack
    {
        readonly TestDoubleRuntime inner = new();
        public string Name => inner.Name;
        public PackStatus Check() => inner.Check();
        public PackCapabilities Capabilities => inner.Capabilities;
        public IReadOnlyList<string> ProbePrompts => [];
        public IImageGenerator? Generator => inner.Generator;
        public ILoraTrainer? Trainer => inner.Trainer;
        public IGroundTruth? GroundTruth => null;
        public GenerationSettings DefaultGeneration => inner.DefaultGeneration;
        public IReward CreateReward(string name) => inner.CreateReward(name);
        public void ValidatePrompt(string prompt, string field) => inner.ValidatePrompt(prompt, field);
        public void Dispose() { }
    }

    /// <summary>The test double runtime whose rewards count the images they score.</summary>
    sealed class CountingRuntime : IModelPack
    {
        readonly TestDoubleRuntime inner = new();
        public int Scored;
        public TestDoubleGenerator TestGenerator => inner.TestGenerator;
        public string Name => inner.Name;
        public PackStatus Check() => inner.Check();
        public PackCapabilities Capabilities => inner.Capabilities;
        public IReadOnlyList<string> ProbePrompts => [];
        public IImageGenerator? Generator => inner.Generator;
        public ILoraTrainer? Trainer => inner.Trainer;
        public IGroundTruth? GroundTruth => inner.GroundTruth;
        public GenerationSettings DefaultGeneration => inner.DefaultGeneration;
        public IReward CreateReward(string name) => new Counted(inner.CreateReward(name), this);
        public void ValidatePrompt(string prompt, string field) => inner.ValidatePrompt(prompt, field);
        public void Dispose() { }

        sealed class Counted(IReward reward, CountingRuntime owner) : IReward
        {
            public string Name => reward.Name;
            public string Version => reward.Version;
            public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
            {
                owner.Scored += images.Count;
                return reward.Score(prompt, images, cancellationToken);
            }
        }
    }
}
