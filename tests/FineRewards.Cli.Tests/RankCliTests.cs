using System.Text.Json.Nodes;

namespace FineRewards.Cli.Tests;

public class RankCliTests
{
    static string Write(string json)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("fr-rank").FullName, "input.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Rank_prints_the_documented_json()
    {
        string input = Write("""{"candidates":[{"id":"c0","scores":{"caption":0.91,"sam":0.12}},{"id":"c1","scores":{"caption":0.5,"sam":0.12}},{"id":"c2","scores":{"caption":0.5,"sam":0.3}},{"id":"c3","scores":{"caption":0.95,"sam":0.4}}]}""");
        var r = CliRunner.Run("rank", "--method", "arl", "--input", input);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            """{"method":"arl","order":["c3","c0","c2","c1"],"selected":"c3","ranks":{"c0":{"caption":2,"sam":3.5,"total":5.5},"c1":{"caption":3.5,"sam":3.5,"total":7},"c2":{"caption":3.5,"sam":2,"total":5.5},"c3":{"caption":1,"sam":1,"total":2}}}""",
            r.Stdout.Trim());
    }

    [Fact]
    public void Rank_with_weights_and_several_prompts()
    {
        string input = Path.Combine(AppContext.BaseDirectory, "best-of-4.json");
        var r = CliRunner.Run("rank", "--method", "single:sam", "--weights", "caption=1,sam=2", "--input", input);
        Assert.Equal(0, r.ExitCode);
        var prompts = JsonNode.Parse(r.Stdout)!["prompts"]!.AsArray();
        Assert.Equal(2, prompts.Count);
        Assert.Equal("three green triangles", (string)prompts[1]!["prompt"]!);
        Assert.Equal("c2", (string)prompts[1]!["selected"]!);
        Assert.Equal("single:sam", (string)prompts[1]!["method"]!);
        var arl = CliRunner.Run("rank", "--input", input);
        Assert.Equal("c0", (string)JsonNode.Parse(arl.Stdout)!["prompts"]![1]!["selected"]!);
        var sum = CliRunner.Run("rank", "--method", "sum", "--input", input);
        Assert.Equal("c2", (string)JsonNode.Parse(sum.Stdout)!["prompts"]![1]!["selected"]!);
    }

    [Fact]
    public void Bad_input_exits_2_and_names_the_field()
    {
        string input = Write("""{"candidates":[{"id":"c0","scores":{"caption":0.9}},{"id":"c1","scores":{"caption":null}}]}""");
        var r = CliRunner.Run("rank", "--input", input);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Contains("candidates[1].scores.caption", r.Stderr);
        Assert.Contains("c1", r.Stderr);

        var missing = CliRunner.Run("rank", "--input", "/nonexistent/in.json");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("--input", missing.Stderr);

        var method = CliRunner.Run("rank", "--method", "best", "--input", input);
        Assert.Equal(2, method.ExitCode);
        Assert.Contains("--method", method.Stderr);
    }
}
