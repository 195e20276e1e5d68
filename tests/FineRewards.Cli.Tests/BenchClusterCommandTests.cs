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
