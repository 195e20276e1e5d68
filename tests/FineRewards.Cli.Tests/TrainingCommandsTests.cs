using FineRewards.Contracts;
using FineRewards.Core.Packs;
using System.Text.Json.Nodes;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Tests.Training;
using FineRewards.Core.Training;
using FineRewards.Cli.Cli;

namespace FineRewards.Cli.Tests;

public sealed class TrainingCommandsTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "fr-train-cli-" + Guid.NewGuid().ToString("N"));
    readonly PackRegistry packs = new PackRegistry().Register("test-pack", () => new TestDoubleRuntime());

    public TrainingCommandsTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PromptsFile()
    {
        string path = Path.Combine(dir, "prompts.txt");
        File.WriteAllText(path, "a red circle\ntwo blue squares\na green triangle\n");
        return path;
    }

    [Fact]
    public void Train_then_eval_with_the_last_lora_then_report_write_their_files()
    {
        string prompts = PromptsFile();
        string run = Path.Combine(dir, "run");
        var output = new StringWriter();
        int rc = TrainCommand.Create(packs, output).Parse(["--pack", "test-pack", "--prompts", prompts, "--rounds", "2", "--k", "3",
            "--rewards", "bright,second", "--combine", "arl", "--out", run, "--steps-per-round", "4", "--previews", "2"]).Invoke();
        Assert.Equal(0, rc);
        string text = output.ToString();
        Assert.Contains("round 1 generate: 3/3", text);   // plain lines when not a terminal
        Assert.Contains("ETA", text);
        Assert.Contains("round 2: kept 3/3", text);
        var manifest = RunManifest.Load(Path.Combine(run, "run.json"));
        Assert.Equal(RunManifest.Completed, manifest.Status);
        Assert.Equal(["bright", "second"], manifest.Options.Rewards);

        string evalDir = Path.Combine(dir, "eval");
        var evalOut = new StringWriter();
        rc = EvalCommand.Create(packs, evalOut).Parse(["--pack", "test-pack", "--prompts", prompts, "--k", "2", "--seed", "5",
            "--lora", Path.Combine(run, manifest.Rounds[^1].Checkpoint), "--out", evalDir]).Invoke();
        Assert.Equal(0, rc);
        Assert.Contains("| overall | 3 |", evalOut.ToString());
        var eval = JsonNode.Parse(File.ReadAllText(Path.Combine(evalDir, "eval.json")))!;
        Assert.Equal(3, eval["prompts"]!.AsArray().Count);
        Assert.NotNull(eval["summary"]!["top1_accuracy"]!["bright"]);
        Assert.True(File.Exists(Path.Combine(evalDir, CandidateFiles.ImageName(2, 1))));
        Assert.Equal(GenerationDefaults.Guidance, eval["options"]!["generation"]!["guidance"]!.GetValue<double>());   // the pack's default

        // eval draws with other sampling settings when told, and records them.
        string guidedDir = Path.Combine(dir, "eval-guided");
        rc = EvalCommand.Create(packs, new StringWriter()).Parse(["--pack", "test-pack", "--prompts", prompts, "--k", "1", "--seed", "5",
            "--guidance", "2.5", "--gen-steps", "3", "--out", guidedDir]).Invoke();
        Assert.Equal(0, rc);
        var guided = JsonNode.Parse(File.ReadAllText(Path.Combine(guidedDir, "eval.json")))!["options"]!["generation"]!;
        Assert.Equal((2.5, 3), (guided["guidance"]!.GetValue<double>(), guided["steps"]!.GetValue<int>()));

        string reportDir = Path.Combine(dir, "report");
        rc = ReportCommand.Create().Parse([run, "--out", reportDir]).Invoke();
        Assert.Equal(0, rc);
        string md = File.ReadAllText(Path.Combine(reportDir, "report.md"));
        Assert.Contains("| 2 | 3/3 | 6 | 4 |", md);
        foreach (string png in new[] { "reward_per_round.png", "accuracy_per_round.png", "grid_run.png" })
        {
            var image = PngCodec.Decode(File.ReadAllBytes(Path.Combine(reportDir, png)), png).Image;
            Assert.True(image.Width > 100, png);
        }
        // The grid: 2 preview prompts (rows) x base + 2 rounds (columns) of 96 px cells with 4 px gaps.
        var grid = PngCodec.Decode(File.ReadAllBytes(Path.Combine(reportDir, "grid_run.png"))).Image;
        Assert.Equal((3 * 96 + 4 * 4, 2 * 96 + 3 * 4), (grid.Width, grid.Height));
    }

    [Fact]
    public void Report_names_runs_in_same_named_folders_by_their_parents()
    {
        string prompts = PromptsFile();
        var runs = new[] { "arl", "random" }.Select(row => Path.Combine(dir, "exp", row, "train")).ToList();
        foreach (var (run, combine) in runs.Zip(new[] { "arl", "random" }))
            Assert.Equal(0, TrainCommand.Create(packs, new StringWriter()).Parse(["--pack", "test-pack", "--prompts", prompts, "--rounds", "1", "--k", "2",
                "--rewards", "bright,second", "--combine", combine, "--out", run, "--steps-per-round", "1", "--previews", "1"]).Invoke());
        string reportDir = Path.Combine(dir, "exp-report");
        Assert.Equal(0, ReportCommand.Create().Parse([.. runs, "--out", reportDir]).Invoke());
        string md = File.ReadAllText(Path.Combine(reportDir, "report.md"));
        Assert.Contains("## arl-train", md);
        Assert.Contains("## random-train", md);
        Assert.True(File.Exists(Path.Combine(reportDir, "grid_arl-train.png")));
    }

    [Fact]
    public void Train_and_eval_refuse_an_unregistered_pack_naming_it()
    {
        var r = CliRunner.Run("train", "--pack", "nope", "--prompts", PromptsFile(), "--out", Path.Combine(dir, "run"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no engine is registered for pack \"nope\"", r.Stderr);
        var e = CliRunner.Run("eval", "--pack", "nope", "--prompts", PromptsFile(), "--out", Path.Combine(dir, "eval"));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("pack \"nope\"", e.Stderr);
    }

    /// <summary>The shipped Shapes pack end to end: its diffusion model generates, its readers score, LoRA trains.</summary>
    [Fact]
    public void Train_runs_a_round_on_the_shipped_shapes_pack()
    {
        string prompts = Path.Combine(dir, "shapes-prompts.txt");
        File.WriteAllText(prompts, "a red circle\na blue square to the left of a yellow triangle\n");
        string run = Path.Combine(dir, "shapes-run");
        var r = CliRunner.Run("train", "--pack", "shapes", "--prompts", prompts, "--rounds", "1", "--k", "2", "--rewards", "caption,sam",
            "--combine", "arl", "--out", run, "--steps-per-round", "2", "--previews", "0");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.True(File.Exists(Path.Combine(run, "loras", "round01.safetensors")));
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json")));
        Assert.Contains("shapes", manifest.RootElement.GetRawText());
        Assert.Contains("caption", File.ReadAllText(Directory.EnumerateFiles(run, "scores.json", SearchOption.AllDirectories).First()));
    }

    /// <summary>`--lora-targets` and `--min-timestep` reach the Shapes pack's trainer: a unet+text LoRA adapts convolutions and the text encoder.</summary>
    [Fact]
    public void Train_passes_lora_targets_to_the_shapes_trainer_and_refuses_an_unknown_set()
    {
        string prompts = Path.Combine(dir, "targets-prompts.txt");
        File.WriteAllText(prompts, "a red circle\n");
        string run = Path.Combine(dir, "targets-run");
        string[] args = ["train", "--pack", "shapes", "--prompts", prompts, "--rounds", "1", "--k", "1", "--rewards", "caption",
            "--combine", "arl", "--out", run, "--steps-per-round", "1", "--previews", "0"];
        var r = CliRunner.Run([.. args, "--lora-targets", "unet+text", "--min-timestep", "0.5"]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var header = FineRewards.Diffusion.IO.SafetensorsFile.ReadHeader(Path.Combine(run, "loras", "round01.safetensors"));
        Assert.Equal("unet+text", header.Metadata["finerewards.targets"]);
        Assert.Equal("0.5", header.Metadata["finerewards.min_timestep"]);
        Assert.Contains(header.Tensors.Keys, k => k.StartsWith("text_encoder."));
        Assert.Contains(header.Tensors.Keys, k => k.Contains(".resnets.0.conv1."));

        var bad = CliRunner.Run("train", "--pack", "shapes", "--prompts", prompts, "--out", Path.Combine(dir, "bad-targets"), "--lora-targets", "conv");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--lora-targets", bad.Stderr);
        Assert.Contains("attention, attention+ff, unet, unet+text", bad.Stderr);
    }

    [Fact]
    public void Train_without_resume_into_an_existing_run_is_refused()
    {
        string prompts = PromptsFile();
        string run = Path.Combine(dir, "run");
        string[] args = ["--pack", "test-pack", "--prompts", prompts, "--rounds", "1", "--k", "2", "--rewards", "bright", "--combine", "single:bright",
            "--out", run, "--steps-per-round", "1", "--previews", "0"];
        Assert.Equal(0, TrainCommand.Create(packs, new StringWriter()).Parse(args).Invoke());
        Assert.Equal(2, TrainCommand.Create(packs, new StringWriter()).Parse(args).Invoke());
        Assert.Equal(0, TrainCommand.Create(packs, new StringWriter()).Parse([.. args, "--resume"]).Invoke());
    }
}
