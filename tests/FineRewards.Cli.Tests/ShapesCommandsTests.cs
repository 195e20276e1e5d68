using System.CommandLine;
using System.Text.Json.Nodes;
using FineRewards.Cli.Cli;

namespace FineRewards.Cli.Tests;

/// <summary>shapes-prompts -> render-shapes -> eval-shapes through the real command objects.</summary>
public sealed class ShapesCommandsTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"shapes-cli-{Guid.NewGuid():N}");

    public ShapesCommandsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs `finerewards` as a child process, so output of tests running in parallel cannot mix in.</summary>
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var r = CliRunner.Run(args);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    [Fact]
    public void Spec_renders_of_the_test_split_score_one_and_bad_input_exits_with_2()
    {
        string prompts = Path.Combine(_dir, "prompts.txt"), images = Path.Combine(_dir, "images"), json = Path.Combine(_dir, "report.json");
        var made = Run("shapes-prompts", "--split", "test", "--task", "counting", "--out", prompts);
        Assert.Equal(0, made.Code);
        Assert.Equal(5, File.ReadAllLines(prompts).Length);

        Assert.Equal(0, Run("render-shapes", "--prompts", prompts, "--out", images, "--k", "2", "--seed", "7").Code);
        Assert.True(File.Exists(Path.Combine(images, "p0004_c1.png")));

        var eval = Run("eval-shapes", "--prompts", prompts, "--images", images, "--json", json);
        Assert.Equal(0, eval.Code);
        Assert.Contains("counting", eval.Out);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(1.0, report["overall"]!.GetValue<double>());
        Assert.Equal(10, report["images"]!.GetValue<int>());

        // A wrong image for prompt 0, candidate 1: accuracy drops, any-of-K does not.
        string wrongPrompt = Path.Combine(_dir, "wrong.txt");
        File.WriteAllText(wrongPrompt, "a red square\n");
        Assert.Equal(0, Run("render-shapes", "--prompts", wrongPrompt, "--out", Path.Combine(_dir, "wrong")).Code);
        File.Copy(Path.Combine(_dir, "wrong", "p0000_c0.png"), Path.Combine(images, "p0000_c1.png"), overwrite: true);
        Assert.Equal(0, Run("eval-shapes", "--prompts", prompts, "--images", images, "--k", "2", "--json", json).Code);
        report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(0.9, report["tasks"]!["counting"]!["accuracy"]!.GetValue<double>(), 9);
        Assert.Equal(1.0, report["any_correct"]!.GetValue<double>());

        var missing = Run("eval-shapes", "--prompts", prompts, "--images", images, "--k", "3");
        Assert.Equal(2, missing.Code);
        Assert.Contains("p0000_c2.png", missing.Err);
        var bad = Run("render-shapes", "--prompt", "a red hexagon", "--out", Path.Combine(_dir, "x.png"));
        Assert.Equal(2, bad.Code);
        Assert.Contains("hexagon", bad.Err);
    }

    [Fact]
    public void The_packs_own_pack_subcommands_are_in_the_tree_and_report_bad_input_with_2()
    {
        var minutes = Run("pack", "train", "shapes", "--minutes", "0", "--out", Path.Combine(_dir, "pack"));
        Assert.Equal(CliErrors.BadInput, minutes.Code);
        Assert.Contains("--minutes", minutes.Err);
        var other = Run("pack", "eval", "sd15");
        Assert.Equal(CliErrors.BadInput, other.Code);
        Assert.Contains("\"sd15\" cannot be evaluated", other.Err);
        var threads = Run("pack", "eval", "shapes", "--threads", "0");
        Assert.Equal(CliErrors.BadInput, threads.Code);
        Assert.Contains("--threads", threads.Err);
    }
}
