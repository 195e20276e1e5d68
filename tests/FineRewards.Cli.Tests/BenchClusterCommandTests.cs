namespace FineRewards.Cli.Tests;

public class BenchClusterCommandTests
{
    [Theory]
    [InlineData("--postgres", "Hots=db", "--postgres")]
    [InlineData("--postgres", "Database=x", "--postgres")]
    [InlineData("--workers", "0", "--workers")]
    public void Bench_cluster_names_the_bad_option(string option, string value, string field)
    {
        var result = CliRunner.Run("bench", "cluster", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: {field}:", result.Stderr.Trim());
    }
}

public class BenchClusterRealTests
{
    [Fact]
    public void Bench_cluster_real_runs_the_shapes_pack_on_worker_silos()
    {
        // Tiny: one worker, one job of one candidate and two steps, after the untimed warm-up run.
        var result = CliRunner.Run("bench", "cluster", "--real", "--workers", "1", "--jobs-per-worker", "1", "--k", "1", "--steps", "2", "--threads", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stdout.Trim().Split('\n');
        Assert.Equal("efficiency at 1 workers: 1.00", lines[^1].Trim());
        using var json = System.Text.Json.JsonDocument.Parse(string.Join('\n', lines[..^1]));
        Assert.Equal("shapes", json.RootElement.GetProperty("pack").GetString());
        var run = Assert.Single(json.RootElement.GetProperty("runs").EnumerateArray());
        Assert.Equal(1, run.GetProperty("jobs").GetInt32());
        Assert.True(run.GetProperty("jobs_per_minute").GetDouble() > 0);
    }
}
