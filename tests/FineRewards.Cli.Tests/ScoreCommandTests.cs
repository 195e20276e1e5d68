using System.CommandLine;
using System.Text.Json.Nodes;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Cli.Cli;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack;

namespace FineRewards.Cli.Tests;

/// <summary>`score` end to end on the shipped Shapes pack: spec renders of a prompt and of a near miss.</summary>
public sealed class ScoreCommandTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"score-cli-{Guid.NewGuid():N}");
    readonly string _pack = ShapesPackInfo.SourceFolder()!;

    public ScoreCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Runs `finerewards` as a child process: swapping Console.Out in-process would capture what other
    /// tests of this assembly print while running in parallel.
    /// </summary>
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var r = CliRunner.Run(args);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    string Render(string prompt, string name, int seed)
    {
        string path = Path.Combine(_dir, name + ".png");
        PngCodec.Write(SceneRenderer.Render(SceneSampler.Sample(PromptGrammar.Parse(prompt), seed)), path);
        return path;
    }

    Dictionary<string, JsonNode> ScoreJson(string prompt, string correct, string wrong, params string[] extra)
    {
        var result = Run(["score", "--pack", _pack, "--prompt", prompt, wrong, correct, .. extra.Contains("--rewards") ? [] : new[] { "--rewards", "caption,sam,clip,random" }, "--json", .. extra]);
        Assert.True(result.Code == 0, result.Err);
        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal("correct", json["selected"]!.GetValue<string>());
        return json["candidates"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<string>(), c => c!["rewards"]!);
    }

    static double Score(Dictionary<string, JsonNode> byId, string id, string reward) => byId[id][reward]!["score"]!.GetValue<double>();

    [Fact]
    public void A_correct_render_outranks_a_wrong_colour_under_caption_sam_and_clip()
    {
        string prompt = "a blue square and a yellow triangle";
        var byId = ScoreJson(prompt, Render(prompt, "correct", 3), Render("a blue square and a green triangle", "wrong", 4));
        foreach (var reward in new[] { "caption", "sam", "clip" })
            Assert.True(Score(byId, "correct", reward) > Score(byId, "wrong", reward), $"{reward}: correct {Score(byId, "correct", reward)} <= wrong {Score(byId, "wrong", reward)}");
        // Evidence: the caption, and every segment with its verdict, box and mask.
        Assert.False(string.IsNullOrEmpty(byId["correct"]["caption"]!["caption"]!.GetValue<string>()));
        var segments = byId["correct"]["sam"]!["segments"]!.AsArray();
        Assert.Equal(PromptGrammar.Parse(prompt).ObjectCount, segments.Count);
        Assert.All(segments, s => Assert.Equal("certain", s!["verdict"]!.GetValue<string>()));
        Assert.Equal(4, segments[0]!["box"]!.AsArray().Count);
    }

    [Fact]
    public void A_wrong_count_ties_under_eq5_and_loses_with_the_count_aware_coverage_term()
    {
        string prompt = "three red circles", correct = Render(prompt, "correct", 3), wrong = Render("two red circles", "wrong", 4);
        var paper = ScoreJson(prompt, correct, wrong);
        Assert.True(Score(paper, "correct", "caption") > Score(paper, "wrong", "caption"));
        Assert.True(Score(paper, "correct", "clip") > Score(paper, "wrong", "clip"));
        // Every segment of both images is a certain "red circle": the paper's mean cannot see the missing one.
        Assert.Equal(0.5, Score(paper, "correct", "sam"), 12);
        Assert.Equal(0.5, Score(paper, "wrong", "sam"), 12);
        var counted = ScoreJson(prompt, correct, wrong, "--coverage", "0.5", "--count-aware");
        Assert.Equal(0.5, Score(counted, "correct", "sam"), 12);
        Assert.Equal(0.5 - 0.5 * (1 - 2.0 / 3), Score(counted, "wrong", "sam"), 12);
        Assert.Equal(2.0 / 3, double.Parse(counted["wrong"]["sam"]!["details"]!["coverage"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), 12);
        // The named variants carry the same terms at weight 0.5, beside the paper's sam in one run; coverage alone sees a red circle either way.
        var variants = ScoreJson(prompt, correct, wrong, "--rewards", "sam,sam_coverage,sam_count");
        Assert.Equal(Score(variants, "wrong", "sam"), Score(variants, "wrong", "sam_coverage"), 12);
        Assert.Equal(Score(counted, "wrong", "sam"), Score(variants, "wrong", "sam_count"), 12);
        Assert.Equal(0.5, Score(variants, "correct", "sam_count"), 12);
    }

    [Fact]
    public void A_swapped_position_ties_under_eq5_and_loses_under_sam_relation_with_per_relation_evidence()
    {
        string prompt = "a red circle above a blue square";
        var byId = ScoreJson(prompt, Render(prompt, "correct", 3), Render("a blue square above a red circle", "wrong", 4), "--rewards", "sam,sam_relation");
        Assert.Equal(Score(byId, "correct", "sam"), Score(byId, "wrong", "sam"), 12);
        Assert.Equal(Score(byId, "correct", "sam") + 0.5, Score(byId, "correct", "sam_relation"), 12);
        Assert.Equal(Score(byId, "wrong", "sam") - 0.5, Score(byId, "wrong", "sam_relation"), 12);

        var holds = Assert.Single(byId["correct"]["sam_relation"]!["relations"]!.AsArray())!;
        Assert.Equal("red circle above blue square", holds["relation"]!.GetValue<string>());
        Assert.Equal("holds", holds["verdict"]!.GetValue<string>());
        var segments = byId["correct"]["sam_relation"]!["segments"]!.AsArray();
        Assert.Equal("red circle", segments[holds["subject_segment"]!.GetValue<int>()]!["label"]!.GetValue<string>());
        Assert.Equal(segments[holds["object_segment"]!.GetValue<int>()]!["box"]!.ToJsonString(), holds["object_box"]!.ToJsonString());
        var violated = Assert.Single(byId["wrong"]["sam_relation"]!["relations"]!.AsArray())!;
        Assert.Equal("violated", violated["verdict"]!.GetValue<string>());
        Assert.True(violated["slack"]!.GetValue<double>() < 0);
        Assert.Contains("relation-violated", byId["wrong"]["sam_relation"]!["flags"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Fact]
    public void Prints_a_table_with_the_order_and_rejects_bad_input_with_exit_code_2()
    {
        string correct = Render("a red circle", "correct", 1), wrong = Render("a purple circle", "wrong", 2);
        var table = Run("score", "--pack", _pack, "--prompt", "a red circle", "--images", _dir, "--rewards", "sam");
        Assert.True(table.Code == 0, table.Err);
        Assert.Contains("order (arl): correct > wrong", table.Out);
        Assert.Contains("red circle certain", table.Out);

        var notGrammar = Run("score", "--pack", _pack, "--prompt", "a cat on a mat", correct, "--rewards", "sam");
        Assert.Equal(2, notGrammar.Code);
        Assert.Contains("--prompt", notGrammar.Err);
        var missing = Run("score", "--pack", _pack, "--prompt", "a red circle", Path.Combine(_dir, "nope.png"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("nope.png", missing.Err);
        var noModel = Run("score", "--pack", _pack, "--prompt", "a red circle", wrong, "--rewards", "sam", "--judge", "llm");
        Assert.Equal(2, noModel.Code);
        Assert.Contains("--gguf", noModel.Err);
        var missingModel = Run("score", "--pack", _pack, "--prompt", "a red circle", wrong, "--rewards", "sam", "--judge", "llm", "--gguf", Path.Combine(_dir, "none.gguf"));
        Assert.Equal(2, missingModel.Code);
        Assert.Contains("none.gguf", missingModel.Err);
        var badReward = Run("score", "--pack", _pack, "--prompt", "a red circle", wrong, "--rewards", "caption,blip");
        Assert.Equal(2, badReward.Code);
        Assert.Contains("--rewards", badReward.Err);
    }
}
