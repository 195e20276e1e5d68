using System.Text.Json;

namespace FineRewards.Cli.Tests;

public class BenchHostCommandTests
{
    [Fact]
    public void Bench_host_runs_a_job_both_ways_on_the_shapes_pack_and_reports_its_measurements()
    {
        // The smallest real run: one warm-up pair and one timed pair of a best-of-2, one sampler step.
        var result = CliRunner.Run("bench", "host", "--k", "2", "--steps", "1", "--repeats", "1", "--calls", "3", "--threads", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("get_capabilities_ms").GetProperty("n").GetInt32());
        Assert.True(root.GetProperty("has_images_ms").GetProperty("p50").GetDouble() > 0);
        Assert.True(root.GetProperty("event_latency_ms").GetProperty("n").GetInt32() > 0);
        Assert.True(root.GetProperty("host_ms_median").GetDouble() > 0);
        Assert.True(root.GetProperty("in_process_ms_median").GetDouble() > 0);
        Assert.True(root.GetProperty("job").GetProperty("same_selection_and_pixels").GetBoolean());
        Assert.InRange(root.GetProperty("job").GetProperty("selected").GetInt32(), 0, 1);
        foreach (var part in new[] { "generate", "score" })
            Assert.True(root.GetProperty("host_breakdown_ms_median").GetProperty(part).GetDouble() > 0, part);
    }

    [Theory]
    [InlineData("--k", "0", "--k")]
    [InlineData("--repeats", "0", "--repeats")]
    [InlineData("--prompt", "a flying elephant", "--prompt")]
    public void Bench_host_names_the_bad_option(string option, string value, string field)
    {
        var result = CliRunner.Run("bench", "host", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: {field}:", result.Stderr.Trim());
    }
}
