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
        // Per job at least its insert, its start, its candidates, its end (the steps ride along) and the scheduler's queue reach the store.
        Assert.True(run.StoreWrites >= 4 * 5, $"{run.StoreWrites} store writes for 4 jobs");
        Assert.Equal(run.StoreWrites, run.WritesByKind.Values.Sum());
        Assert.Equal(4, run.WritesByKind["insert"]);
        Assert.Single(lines);
    }
}

public sealed class PostgresBenchTests
{
    [Fact]
    public async Task The_benchmark_on_PostgreSQL_writes_to_a_schema_of_its_own_and_drops_it()
    {
        var run = await new ClusterBench(steps: 2, TimeSpan.FromMilliseconds(1), jobsPerWorker: 2, k: 2, _ => { }, TestPostgres.Server).RunAsync(2);
        Assert.Equal(4, run.Jobs);
        Assert.True(run.StoreWrites >= 4 * 5, $"{run.StoreWrites} store writes for 4 jobs");
        await using var connection = new Npgsql.NpgsqlConnection(TestPostgres.Server);
        await connection.OpenAsync();
        await using var schemas = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'finerewards_bench_%'", connection);
        Assert.Equal(0L, await schemas.ExecuteScalarAsync());
    }
}
