using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Tests.Training;
using FineRewards.Cli.Cli;

namespace FineRewards.Cli.Tests;

/// <summary>`score` takes its rewards from the pack the registry resolves, as `serve`, `train` and `eval` do.</summary>
public sealed class ScoreThroughPackTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fr-score-pack-").FullName;
    readonly PackRegistry packs = new PackRegistry().Register("test-pack", () => new TestDoubleRuntime());

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Png(string name, byte red)
    {
        string path = Path.Combine(dir, name + ".png");
        PngCodec.Write(new RgbImage(4, 4, Enumerable.Repeat(red, 4 * 4 * 3).ToArray()), path);
        return path;
    }

    JsonNode Score(params string[] args)
    {
        string json = Path.Combine(dir, $"{Guid.NewGuid():N}.json");
        Assert.Equal(0, ScoreCommand.Create(packs).Parse(["--pack", "test-pack", "--prompt", "anything", Png("dim", 40), Png("lit", 220), .. args, "--json", json]).Invoke());
        return JsonNode.Parse(File.ReadAllText(json))!;
    }

    [Fact]
    public void Score_ranks_with_the_rewards_the_pack_creates_and_its_default_set()
    {
        var bright = Score("--rewards", "bright");
        Assert.Equal("lit", bright["selected"]!.GetValue<string>());
        var lit = bright["candidates"]!.AsArray().Single(c => c!["id"]!.GetValue<string>() == "lit")!;
        Assert.Equal("bright saw 220", lit["rewards"]!["bright"]!["caption"]!.GetValue<string>());

        Assert.Equal("dim", Score("--rewards", "dark")["selected"]!.GetValue<string>());

        // Without --rewards: the pack's default set (all of the test pack's rewards).
        var defaults = Score()["rewards"]!.AsArray().Select(r => r!["name"]!.GetValue<string>());
        Assert.Equal(["bright", "dark", "second"], defaults);
    }

    [Fact]
    public void Rewards_the_pack_lacks_and_options_it_does_not_take_are_refused()
    {
        int Run(params string[] args) => ScoreCommand.Create(packs).Parse(["--pack", "test-pack", "--prompt", "anything", Png("one", 9), .. args]).Invoke();
        Assert.Equal(CliErrors.BadInput, Run("--rewards", "caption"));
        Assert.Equal(CliErrors.BadInput, Run("--rewards", "bright", "--judge", "lexical"));
    }
}
