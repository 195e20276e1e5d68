using System.CommandLine;
using System.Text.Json.Nodes;
using FineRewards.Host.Cli;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack;

namespace FineRewards.Host.Tests;

/// <summary>`score` end to end on the shipped Shapes pack: spec renders of a prompt and of a near miss.</summary>
public sealed class ScoreCommandTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"score-cli-{Guid.NewGuid():N}");
    readonly string _pack = ShapesPackInfo.SourceFolder()!;

    public ScoreCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { ScoreCommand.Create() };
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try { return (root.Parse(args).Invoke(), output.ToString(), error.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    string Render(string prompt, string name, int seed)
    {
        string path = Path.Combine(_dir, name + ".png");
        ImageFiles.WritePng(SceneRenderer.Render(SceneSampler.Sample(PromptGrammar.Parse(prompt), seed)), path);
        return path;
    }

    [Theory]
    [InlineData("a blue square and a yellow triangle", "a blue square and a green triangle")]   // wrong colour
    [InlineData("three red circles", "two red circles")]                                         // wrong count
    public void A_correct_render_outranks_a_near_miss_under_caption_sam_and_clip(string prompt, string nearMiss)
    {
        string correct = Render(prompt, "correct", 3), wrong = Render(nearMiss, "wrong", 4);
        var result = Run("score", "--pack", _pack, "--prompt", prompt, wrong, correct, "--rewards", "caption,sam,clip,random", "--json");
        Assert.True(result.Code == 0, result.Err);
        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal("correct", json["selected"]!.GetValue<string>());
        var byId = json["candidates"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<string>(), c => c!["rewards"]!);
        foreach (var reward in new[] { "caption", "sam", "clip" })
            Assert.True(byId["correct"][reward]!["score"]!.GetValue<double>() > byId["wrong"][reward]!["score"]!.GetValue<double>(),
                $"{reward}: correct {byId["correct"][reward]!["score"]} <= wrong {byId["wrong"][reward]!["score"]}");
        // Evidence: the caption, and every segment with its verdict, box and mask.
        Assert.False(string.IsNullOrEmpty(byId["correct"]["caption"]!["caption"]!.GetValue<string>()));
        var segments = byId["correct"]["sam"]!["segments"]!.AsArray();
        Assert.Equal(PromptGrammar.Parse(prompt).ObjectCount, segments.Count);
        Assert.All(segments, s => Assert.Equal("certain", s!["verdict"]!.GetValue<string>()));
        Assert.Equal(4, segments[0]!["box"]!.AsArray().Count);
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
        var badReward = Run("score", "--pack", _pack, "--prompt", "a red circle", wrong, "--rewards", "caption,blip");
        Assert.Equal(2, badReward.Code);
        Assert.Contains("--rewards", badReward.Err);
    }
}
