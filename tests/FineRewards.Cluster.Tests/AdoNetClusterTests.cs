using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Workers;
using FineRewards.Server.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// Silos in this process that find each other as separate machines do: Orleans' ADO.NET membership
/// table in PostgreSQL (<see cref="PostgresClusterExtensions.UsePostgresCluster"/>), TCP on loopback,
/// the <see cref="Storage.PostgresClusterStore"/>. (Orleans' TestingHost always puts its own in-memory
/// membership table in, so these silos are plain hosts.) Needs Orleans' scripts: <see cref="OrleansScripts"/>.
/// </summary>
public sealed class AdoNetClusterTests
{
    [OrleansScriptsFact]
    public async Task A_job_whose_silo_dies_finishes_on_another_worker_when_membership_is_in_PostgreSQL()
    {
        await using var db = await TestPostgres.NewSchemaAsync();
        await OrleansScripts.ApplyAsync(db);
        // The first silo only serves (as an editor's silo would); a device on each of the other two.
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p") };
        string clusterId = "test-" + Guid.NewGuid().ToString("N");
        var silos = new List<IHost>();
        try
        {
            // The scheduler is activated while the first silo is alone, so it lives there: this test is a
            // worker's silo dying (the scheduler's own silo dying is FailureTests' case).
            var first = BuildSilo(db.ConnectionString, clusterId, null);
            await first.StartAsync();
            silos.Add(first);
            var host = new ClusterHost(first.Services.GetRequiredService<IGrainFactory>()) { PollWait = TimeSpan.FromSeconds(2) };
            await host.StatusAsync();
            foreach (var device in devices)
            {
                var silo = BuildSilo(db.ConnectionString, clusterId, device);
                await silo.StartAsync();
                silos.Add(silo);
            }
            await WaitForWorkersAsync(host, 2);

            string id = Jobs.NewId();
            foreach (var d in devices) d.Hold(id);
            await host.SubmitGenerationAsync(id, "a", Jobs.Spec(k: 4, seed: 500));
            var before = await host.FirstEventsAsync(id, 7);
            var running = await SiloRunningAsync(host, silos, id);
            Assert.NotSame(silos[0], running);
            // Not a graceful stop: the silo leaves without telling anyone, its peers must declare it dead.
            await running.StopAsync(new CancellationToken(canceled: true));

            var after = await host.EventsAsync(id, before[^1].Sequence);
            var all = before.Concat(after).ToList();
            Assert.True(all[^1].Data is JobCompletedEvent, $"the job ended with {all[^1].Data}");
            Jobs.AssertWellFormed(all, 4);
            Assert.Equal(all.Select(e => e.Sequence), (await host.EventsAsync(id)).Select(e => e.Sequence));
            foreach (var ready in all.Select(e => e.Data).OfType<CandidateReadyEvent>())
                Assert.Equal(FakeDevice.ImageIdOf(500 + ready.CandidateIndex, []), ready.ImageId);
            Assert.Equal([(id, 0), (id, 1)], devices.SelectMany(d => d.Started).OrderBy(s => s.Attempt));

            // The events are in the database, not only in the silos: a store opened afresh reads them all.
            await using var store = new Storage.PostgresClusterStore(db.ConnectionString);
            Assert.Equal(all.Select(e => e.Sequence), (await store.LoadJobAsync(id))!.Value.Events.Select(e => e.Sequence));
            // Orleans' own membership table says which silo is gone.
            Assert.Equal(1, await CountDeadSilosAsync(db, clusterId));
        }
        finally
        {
            foreach (var d in devices) d.ReleaseAll();
            foreach (var silo in Enumerable.Reverse(silos))
            {
                try { await silo.StopAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { /* the killed one */ }
                silo.Dispose();
            }
        }
    }

    static IHost BuildSilo(string connectionString, string clusterId, FakeDevice? device)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("CLUSTER_TEST_LOG") is { Length: > 0 })
        {
            builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
            builder.Logging.AddFilter((category, level) => category?.StartsWith("FineRewards", StringComparison.Ordinal) == true && level >= LogLevel.Information);
        }
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
            silo.ConfigureEndpoints(System.Net.IPAddress.Loopback, TestPorts.Free(), TestPorts.Free());
            silo.UsePostgresCluster(connectionString);
            silo.AddFineRewardsCluster(o =>
            {
                o.SharedFolder = Path.GetTempPath();
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
                if (device is not null) o.Devices.Add("gpu0");
            });
            if (device is not null) silo.Services.AddKeyedSingleton<IDeviceExecutor>("gpu0", device);
            TestCluster.DeclareDeadQuickly(silo);
        });
        return builder.Build();
    }

    static async Task WaitForWorkersAsync(ClusterHost host, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await host.StatusAsync()).Workers.Count != count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the scheduler never saw {count} workers");
            await Task.Delay(50);
        }
    }

    static async Task<IHost> SiloRunningAsync(ClusterHost host, IReadOnlyList<IHost> silos, string jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if ((await host.StatusAsync()).Workers.FirstOrDefault(w => w.BusyJob == jobId) is { } worker)
            {
                var address = WorkerKey.Parse(worker.WorkerId).Silo;
                return silos.Single(s => s.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.Equals(address));
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {jobId} never ran");
            await Task.Delay(20);
        }
    }

    static async Task<long> CountDeadSilosAsync(Storage.PostgresSchema db, string clusterId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        // Orleans' SiloStatus: 6 = Dead.
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = @id AND status = 6", connection);
        count.Parameters.AddWithValue("id", clusterId);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}

/// <summary>
/// Orleans' PostgreSQL scripts for ADO.NET clustering, PostgreSQL-Main.sql and PostgreSQL-Clustering.sql:
/// the Microsoft.Orleans.Clustering.AdoNet package does not ship them, so the tests that need them read
/// them from the folder FINEREWARDS_ORLEANS_SQL names (docs/cluster.md says where to get them).
/// </summary>
public static class OrleansScripts
{
    public const string Variable = "FINEREWARDS_ORLEANS_SQL";
    public static readonly string[] Files = ["PostgreSQL-Main.sql", "PostgreSQL-Clustering.sql"];

    public static string? Folder => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } f ? f : null;

    public static async Task ApplyAsync(Storage.PostgresSchema db)
    {
        foreach (string file in Files)
        {
            string path = Path.Combine(Folder!, file);
            if (!File.Exists(path)) throw new FileNotFoundException($"{Variable}={Folder}: {file} is not there (Orleans' ADO.NET clustering script, docs/cluster.md)", path);
            await db.ExecuteAsync(await File.ReadAllTextAsync(path));
        }
    }
}

/// <summary>A test that needs Orleans' scripts: skipped, with the reason shown in the run's output, where FINEREWARDS_ORLEANS_SQL is unset.</summary>
public sealed class OrleansScriptsFactAttribute : FactAttribute
{
    public OrleansScriptsFactAttribute()
    {
        if (OrleansScripts.Folder is null)
            Skip = $"{OrleansScripts.Variable} is not set: Orleans' {string.Join(" and ", OrleansScripts.Files)} are not in its NuGet package (docs/cluster.md, \"PostgreSQL\")";
    }
}
