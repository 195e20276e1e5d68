using FineRewards.Cluster.Bench;

namespace FineRewards.Cluster.Tests;

public sealed class BenchTests
{
    [Fact]
    public async Task The_benchmark_runs_every_job_on_real_silos_and_counts_them()
    {
        var lines = new List<string>();
        var run = await new ClusterBench(steps: 2, TimeSpan.FromMilliseconds(1), jobsPerWorker: 2, k: 2, lines.Add).RunAsync(2);
        Assert.Equal(2, run.Workers);
        Assert.Equal(4, run.Jobs);
        Assert.True(run.Seconds > 0);
        // Per job at least its insert and its events (started, 2 progress, ready, scored+ranked+completed) reach the store.
        Assert.True(run.StoreWrites >= 4 * 5, $"{run.StoreWrites} store writes for 4 jobs");
        Assert.Single(lines);
    }
}
