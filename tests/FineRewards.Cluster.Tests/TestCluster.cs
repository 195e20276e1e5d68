using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Storage;
using FineRewards.Cluster.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace FineRewards.Cluster.Tests;

/// <summary>
/// Three in-process silos (Orleans' InProcessTestCluster) sharing one store (a <see cref="MemoryClusterStore"/>
/// unless given one: the database) and one shared folder; each silo gets the fake devices <c>devicesOf(silo index)</c> names.
/// Membership is tuned to declare a killed silo dead within about two seconds.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public InProcessTestCluster Cluster { get; }
    public IClusterStore Store { get; }
    public string SharedFolder { get; }
    public ClusterHost Host { get; }
    /// <summary>Every fake device, by "silo index/device".</summary>
    public IReadOnlyDictionary<string, FakeDevice> Devices => devices.Where(d => d.Value is FakeDevice).ToDictionary(d => d.Key, d => (FakeDevice)d.Value);
    readonly Dictionary<string, IDeviceExecutor> devices;

    TestCluster(InProcessTestCluster cluster, IClusterStore store, string shared, Dictionary<string, IDeviceExecutor> devices)
    {
        Cluster = cluster;
        Store = store;
        SharedFolder = shared;
        this.devices = devices;
        Host = new ClusterHost(cluster.Client) { PollWait = TimeSpan.FromSeconds(2) };
    }

    public static Task<TestCluster> StartAsync(Func<int, IReadOnlyList<(string Name, FakeDevice Device)>> devicesOf, int silos = 3,
        IClusterStore? store = null) =>
        StartAsync((index, _) => [.. devicesOf(index).Select(d => (d.Name, (IDeviceExecutor)d.Device))], silos, store);

    /// <param name="devicesOf">The devices of silo i, given the shared folder (a real device keeps its images there).</param>
    public static async Task<TestCluster> StartAsync(Func<int, string, IReadOnlyList<(string Name, IDeviceExecutor Device)>> devicesOf, int silos = 3,
        IClusterStore? store = null)
    {
        store ??= new MemoryClusterStore();
        string shared = Directory.CreateTempSubdirectory("cluster-tests-").FullName;
        var devices = new Dictionary<string, IDeviceExecutor>();
        var builder = new InProcessTestClusterBuilder((short)silos);
        int next = 0;
        var bySiloName = new Dictionary<string, int>();
        builder.ConfigureSilo((options, silo) =>
        {
            // Silos are configured in the order they start; remember which index each name got.
            int index;
            lock (bySiloName)
                if (!bySiloName.TryGetValue(options.SiloName, out index)) bySiloName[options.SiloName] = index = next++;
            var mine = devicesOf(index, shared);
            silo.AddFineRewardsCluster(o =>
            {
                o.SharedFolder = shared;
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
                o.Devices.AddRange(mine.Select(d => d.Name));
            });
            foreach (var (name, device) in mine)
            {
                lock (devices) devices[$"{index}/{name}"] = device;
                silo.Services.AddKeyedSingleton<IDeviceExecutor>(name, device);
            }
            silo.Services.AddSingleton<IClusterStore>(store);
            TestCluster.DeclareDeadQuickly(silo);
        });
        if (Environment.GetEnvironmentVariable("CLUSTER_TEST_LOG") is { Length: > 0 } log)
            builder.ConfigureSiloHost((options, host) =>
            {
                host.Logging.AddSimpleConsole(c => c.SingleLine = true);
                host.Logging.AddFilter((category, level) => category?.StartsWith("FineRewards", StringComparison.Ordinal) == true && level >= LogLevel.Information);
            });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var tc = new TestCluster(cluster, store, shared, devices);
        await tc.WaitForWorkersAsync(devices.Count);
        return tc;
    }

    /// <summary>Membership tuned so that a silo that stops answering is declared dead within about two seconds.</summary>
    public static void DeclareDeadQuickly(ISiloBuilder silo) =>
        silo.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = TimeSpan.FromMilliseconds(400);
            m.NumMissedProbesLimit = 2;
            m.NumVotesForDeathDeclaration = 1;
            m.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
            m.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(5);
        });

    /// <summary>Waits until the scheduler knows <paramref name="count"/> workers (they register with their first heartbeat).</summary>
    public async Task WaitForWorkersAsync(int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await Host.StatusAsync()).Workers.Count != count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the scheduler never saw {count} workers");
            await Task.Delay(50);
        }
    }

    /// <summary>The silo of the worker running <paramref name="jobId"/>, once the job runs.</summary>
    public async Task<InProcessSiloHandle> SiloRunningAsync(string jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var worker = (await Host.StatusAsync()).Workers.FirstOrDefault(w => w.BusyJob == jobId);
            if (worker is not null)
            {
                var silo = WorkerKey.Parse(worker.WorkerId).Silo;
                return Cluster.Silos.Single(s => s.SiloAddress.Equals(silo));
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {jobId} never ran");
            await Task.Delay(20);
        }
    }

    /// <summary>The cluster as silo <paramref name="index"/>'s own services call it (the gRPC services of a `serve --cluster` there).</summary>
    public ClusterHost HostOn(int index) =>
        new(Cluster.Silos[index].SiloHost.Services.GetRequiredService<IGrainFactory>()) { PollWait = TimeSpan.FromSeconds(2) };

    public async ValueTask DisposeAsync()
    {
        foreach (var d in devices.Values.OfType<FakeDevice>()) d.ReleaseAll();
        try { await Cluster.StopAllSilosAsync(); } catch (Exception) { /* killed silos */ }
        await Cluster.DisposeAsync();
        try { Directory.Delete(SharedFolder, recursive: true); } catch (IOException) { }
    }
}

public enum StoreKind { Memory, Postgres }

/// <summary>The shared store of one test's cluster: the in-memory one, or a PostgreSQL store on a schema of its own.</summary>
public sealed class TestStore : IAsyncDisposable
{
    public IClusterStore Store { get; }
    readonly PostgresSchema? db;

    TestStore(IClusterStore store, PostgresSchema? db) => (Store, this.db) = (store, db);

    public static async Task<TestStore> OpenAsync(StoreKind kind)
    {
        if (kind == StoreKind.Memory) return new TestStore(new MemoryClusterStore(), null);
        var db = await TestPostgres.NewSchemaAsync();
        var store = new PostgresClusterStore(db.ConnectionString);
        await store.EnsureSchemaAsync();
        return new TestStore(store, db);
    }

    public async ValueTask DisposeAsync()
    {
        if (Store is PostgresClusterStore postgres) await postgres.DisposeAsync();
        if (db is not null) await db.DisposeAsync();
    }
}
