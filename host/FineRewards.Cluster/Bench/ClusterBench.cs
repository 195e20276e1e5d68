using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Storage;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FineRewards.Cluster.Bench;

/// <param name="Workers">Worker silos (one device each) besides the silo that takes the submissions.</param>
/// <param name="Seconds">From the first submit to the last job's completed event.</param>
/// <param name="StepSecondsPerJob">The time a job's steps take on a device (steps x step time).</param>
/// <param name="StoreWrites">Writes to the shared store (jobs, events, scheduler state), over all jobs.</param>
/// <param name="WritesByKind">The same by what they carried: insert, events (a start, candidates or an end, with
/// whatever rode along), progress and positions (batches of only those), scheduler, other (LoRA registry, feedback).</param>
public sealed record ClusterBenchRun(int Workers, int Jobs, double Seconds, double StepSecondsPerJob, long StoreWrites,
    IReadOnlyDictionary<string, long> WritesByKind)
{
    public double JobsPerMinute => Jobs / Seconds * 60;
    /// <summary>
    /// A worker's wall time per job beyond its steps: submitting, scheduling, every event's grain call and
    /// store write, the hand-over to the next job (and the timer's lateness on each step's delay).
    /// </summary>
    public double OverheadMsPerJob => (Seconds * Workers / Jobs - StepSecondsPerJob) * 1000;
}

/// <summary>What the worker silos run: the pack the jobs ask for, the jobs' prompt and rewards, and one device per worker silo.</summary>
/// <param name="Device">Makes a worker's device, given the run's shared folder (images go there).</param>
/// <param name="StepTime">Each step's fixed time on a <see cref="TimedDevice"/>; null for a real pack (no overhead per job is computed).</param>
public sealed record BenchWorkload(string Pack, string Prompt, IReadOnlyList<string> Rewards, Func<string, IDeviceExecutor> Device, TimeSpan? StepTime)
{
    public static BenchWorkload Timed(TimeSpan stepTime) => new("timed", "bench", [], _ => new TimedDevice(["timed"], stepTime), stepTime);
}

/// <summary>
/// `bench cluster`: silos in this process on loopback ports (Orleans' localhost clustering; the
/// shared store in memory, or with <paramref name="postgres"/> a <see cref="PostgresClusterStore"/> in a
/// schema of its own in that database, dropped after each run), one <see cref="TimedDevice"/> per worker silo plus one silo without a
/// device that takes the submissions, as a silo serving editors would. Jobs go in all at once from
/// <see cref="Clients"/> clients; the run ends when every job has its completed event.
/// </summary>
public sealed class ClusterBench(int steps, TimeSpan stepTime, int jobsPerWorker, int k, Action<string> progress, string? postgres = null,
    BenchWorkload? workload = null)
{
    const int Clients = 4;
    readonly BenchWorkload work = workload ?? BenchWorkload.Timed(stepTime);

    public async Task<ClusterBenchRun> RunAsync(int workers)
    {
        await using var schema = postgres is null ? null : await PostgresSchema.CreateAsync(postgres, "finerewards_bench");
        await using var database = schema is null ? null : new PostgresClusterStore(schema.ConnectionString);
        if (database is not null) await database.EnsureSchemaAsync();
        var store = new CountingStore(database ?? (IClusterStore)new MemoryClusterStore());
        string shared = Directory.CreateTempSubdirectory("finerewards-bench-cluster-").FullName;
        var devices = Enumerable.Range(0, workers).Select(_ => work.Device(shared)).ToList();
        int primaryPort = FreePort();
        var silos = new List<IHost>();
        try
        {
            for (int i = 0; i <= workers; i++)
            {
                var silo = BuildSilo(i, primaryPort, store, shared, i == 0 ? null : devices[i - 1]);
                await silo.StartAsync();
                silos.Add(silo);
            }
            var host = new ClusterHost(silos[0].Services.GetRequiredService<IGrainFactory>());
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await host.StatusAsync()).Workers.Count < workers)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"bench cluster: only {(await host.StatusAsync()).Workers.Count} of {workers} workers registered");
                await Task.Delay(50);
            }
            // One job per worker first, so every silo has its grains and connections warm.
            await RunJobsAsync(host, workers, "warmup");
            var writesBefore = store.ByKind;
            var clock = Stopwatch.StartNew();
            int jobs = workers * jobsPerWorker;
            await RunJobsAsync(host, jobs, "timed");
            double seconds = clock.Elapsed.TotalSeconds;
            var writes = store.ByKind.ToDictionary(p => p.Key, p => p.Value - writesBefore.GetValueOrDefault(p.Key));
            var run = new ClusterBenchRun(workers, jobs, seconds, steps * (work.StepTime ?? TimeSpan.Zero).TotalSeconds, writes.Values.Sum(), writes);
            progress($"{workers} workers: {jobs} jobs in {seconds:0.00} s = {run.JobsPerMinute:0.0} jobs/min; store writes per job: " +
                string.Join(", ", writes.Where(p => p.Value > 0).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {(double)p.Value / jobs:0.0}")));
            return run;
        }
        finally
        {
            foreach (var silo in Enumerable.Reverse(silos))
            {
                try { await silo.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { /* best effort at the end of a run */ }
                silo.Dispose();
            }
            Directory.Delete(shared, recursive: true);
        }
    }

    async Task RunJobsAsync(ClusterHost host, int count, string tag)
    {
        var ids = Enumerable.Range(0, count).Select(_ => Guid.NewGuid().ToString()).ToList();
        for (int i = 0; i < ids.Count; i++)
        {
            var spec = new GenerationJobSpec(work.Prompt, "", k, SeedPolicy.Fixed, i * k, GenerationDefaults.Sampler, steps, GenerationDefaults.Guidance, GenerationDefaults.Size, GenerationDefaults.Size, work.Pack, [], work.Rewards,
                FineRewards.Core.Ranking.CombineMethod.Arl, new Dictionary<string, double>(), PreviewPolicy.None);
            await host.SubmitGenerationAsync(ids[i], $"{tag}-client{i % Clients}", spec);
        }
        await Task.WhenAll(ids.Select(async id =>
        {
            JobEvent? last = null;
            await foreach (var e in host.WatchGenerationAsync(id, 0)) last = e;
            if (last?.Data is not JobCompletedEvent) throw new InvalidOperationException($"bench cluster: job {id} ended with {last?.Data.GetType().Name ?? "nothing"}");
        }));
    }

    static IHost BuildSilo(int index, int primaryPort, IClusterStore store, string shared, IDeviceExecutor? device)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo =>
        {
            int siloPort = index == 0 ? primaryPort : FreePort();
            silo.UseLocalhostClustering(siloPort, FreePort(), new IPEndPoint(IPAddress.Loopback, primaryPort), "finerewards-bench", "finerewards-bench");
            silo.AddFineRewardsCluster(o =>
            {
                o.SharedFolder = shared;
                o.Limits = new HostLimits(MaxQueuedJobs: 100_000);
                if (device is not null) o.Devices.Add("bench0");
            });
            silo.Services.AddSingleton(store);
            if (device is not null) silo.Services.AddKeyedSingleton<IDeviceExecutor>("bench0", device);
        });
        return builder.Build();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
