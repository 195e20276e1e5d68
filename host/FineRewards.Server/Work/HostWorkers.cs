using System.Diagnostics;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;

namespace FineRewards.Server.Work;

/// <summary>
/// One worker (a device) as GetCapabilities and the logs show it.
/// </summary>
/// <param name="Id">"local" on one host; "SILO/DEVICE" in a cluster.</param>
/// <param name="Packs">Packs it can load.</param>
/// <param name="LoadedLoras">LoRAs of its last job (names or cluster ids).</param>
/// <param name="JobId">The job it runs now; null when free.</param>
/// <param name="Queued">Jobs waiting that it could take (it can load their pack).</param>
/// <param name="Utilisation">Time spent running jobs over time up, 0 to 1.</param>
public sealed record WorkerState(string Id, IReadOnlyList<string> Packs, string? LoadedPack, IReadOnlyList<string> LoadedLoras, string? JobId,
    int Queued, double Utilisation, long JobsDone)
{
    public bool Busy => JobId is not null;

    public override string ToString() =>
        $"{Id}: {(Busy ? $"busy with {JobId}" : "free")}, queue {Queued}, loaded {LoadedPack ?? "nothing"}{(LoadedLoras.Count == 0 ? "" : $" + {string.Join(", ", LoadedLoras)}")}, utilisation {Utilisation:0.00}, {JobsDone} jobs done";
}

/// <summary>The host's workers, wherever they are: this machine's device, or a cluster's.</summary>
public interface IHostWorkers
{
    Task<IReadOnlyList<WorkerState>> WorkersAsync(CancellationToken cancellationToken);
}

/// <summary>
/// What this machine's device does: the job it runs, busy time, jobs done, and what its last job
/// loaded (the catalog keeps every ready pack's generator, so "loaded" is the last job's pack).
/// </summary>
public sealed class DeviceUsage
{
    readonly object gate = new();
    readonly Stopwatch up = Stopwatch.StartNew(), busy = new();
    string? jobId, pack;
    IReadOnlyList<string> loras = [];
    int running;
    long done;

    public void Begin(string id, string? jobPack, IReadOnlyList<string> jobLoras)
    {
        lock (gate)
        {
            if (running++ == 0) busy.Start();
            jobId = id;
            if (jobPack is not null) (pack, loras) = (jobPack, jobLoras);
        }
    }

    public void End()
    {
        lock (gate)
        {
            if (--running == 0)
            {
                busy.Stop();
                jobId = null;
            }
            done++;
        }
    }

    public (string? JobId, string? Pack, IReadOnlyList<string> Loras, double Utilisation, long Done) Snapshot()
    {
        lock (gate)
        {
            double seconds = up.Elapsed.TotalSeconds;
            return (jobId, pack, loras, seconds <= 0 ? 0 : Math.Min(1, busy.Elapsed.TotalSeconds / seconds), done);
        }
    }
}

/// <summary>One host's one device, as a worker: every ready pack, the host's queue.</summary>
public sealed class LocalHostWorkers(JobManager jobs, ModelCatalog catalog) : IHostWorkers
{
    public Task<IReadOnlyList<WorkerState>> WorkersAsync(CancellationToken cancellationToken)
    {
        var (job, pack, loras, utilisation, done) = jobs.Usage.Snapshot();
        var packs = catalog.Packs().Where(p => p.State is PackState.Ready or PackState.Loading).Select(p => p.Name).ToList();
        return Task.FromResult<IReadOnlyList<WorkerState>>([new WorkerState("local", packs, pack, loras, job, jobs.QueuedCount, utilisation, done)]);
    }
}

/// <summary>Logs each worker's state when it has changed, at most every <see cref="Interval"/>: the logs say what every device did.</summary>
public sealed class WorkerStatusLogger(IHostWorkers workers, Microsoft.Extensions.Logging.ILogger<WorkerStatusLogger> logger) : Microsoft.Extensions.Hosting.BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var last = new Dictionary<string, string>();
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                IReadOnlyList<WorkerState> now;
                try { now = await workers.WorkersAsync(stoppingToken); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(logger, "worker status unavailable: {Message}", e.Message);
                    continue;
                }
                foreach (var w in now)
                {
                    // Utilisation drifts every tick: compare the rest.
                    string key = (w with { Utilisation = 0 }).ToString();
                    if (last.TryGetValue(w.Id, out var seen) && seen == key) continue;
                    last[w.Id] = key;
                    Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(logger, "worker {Worker}", w.ToString());
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
