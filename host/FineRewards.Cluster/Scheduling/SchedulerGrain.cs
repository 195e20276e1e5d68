using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Storage;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace FineRewards.Cluster.Scheduling;

public sealed class SchedulerGrain(IClusterStore store, IClusterMembershipService membership, IOptions<ClusterSiloOptions> options,
    ILogger<SchedulerGrain> logger) : Grain, ISchedulerGrain
{
    public const string Key = "cluster";

    readonly FairQueue<QueuedJob> queue = new();
    // Jobs whose worker was lost: served before the fair queue, they were already started once.
    readonly List<QueuedJob> requeued = [];
    readonly Dictionary<string, RunningJob> running = new(StringComparer.Ordinal);      // job id -> where it runs
    readonly Dictionary<string, WorkerStatus> workers = new(StringComparer.Ordinal);    // live workers by id
    readonly Dictionary<string, long> nextSeedByClient = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> announced = new(StringComparer.Ordinal);           // job id -> last queue position sent

    int MaxQueued => options.Value.Limits.MaxQueuedJobs;
    readonly DateTime activated = DateTime.UtcNow;
    DateTime lastLoss = DateTime.MinValue;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A scheduler on a silo that died comes back here with the queue it had stored.
        if (await store.LoadSchedulerAsync() is { } snapshot)
        {
            foreach (var stored in snapshot.Queued)
                if (await WithSpecAsync(stored) is not { } j) continue;
                else if (j.Attempt > 0) requeued.Add(j);
                else queue.Enqueue(j.ClientId, j);
            foreach (var r in snapshot.Running)
                if (await WithSpecAsync(r.Job) is { } j) running[j.JobId] = r with { Job = j };
            foreach (var (client, seed) in snapshot.NextSeedByClient) nextSeedByClient[client] = seed;
            logger.LogInformation("scheduler resumed: {Queued} queued, {Running} running", snapshot.Queued.Count, snapshot.Running.Count);
        }
        this.RegisterGrainTimer(CheckAsync, new GrainTimerCreationOptions(options.Value.HeartbeatInterval, options.Value.HeartbeatInterval) { KeepAlive = true });
    }

    // Rewritten on every change, so it carries each job's place and seed but not its spec: the spec is in the job's own record.
    Task SaveAsync() => store.SaveSchedulerAsync(new SchedulerSnapshot(
        [.. requeued.Concat(queue.InOrder()).Select(WithoutSpec)], [.. running.Values.Select(r => r with { Job = WithoutSpec(r.Job) })],
        new Dictionary<string, long>(nextSeedByClient)));

    static QueuedJob WithoutSpec(QueuedJob j) => j with { SpecJson = "" };

    /// <summary>A stored queue entry with its spec again, from the job's record; null (logged) when the job has none.</summary>
    async Task<QueuedJob?> WithSpecAsync(QueuedJob j)
    {
        if (j.SpecJson.Length > 0) return j;
        if (await GrainFactory.GetGrain<IJobGrain>(j.JobId).GetRecord() is { } record) return j with { SpecJson = record.SpecJson };
        logger.LogError("scheduler: job {Job} is in the stored queue but has no stored record; dropped", j.JobId);
        return null;
    }

    IEnumerable<QueuedJob> Waiting => requeued.Concat(queue.InOrder());

    public async Task<SubmitOutcome> Submit(JobRecord record, SeedPolicy seedPolicy, int k)
    {
        string field = record.Kind == WorkKind.Generation ? "job_id" : "training_id";
        var job = GrainFactory.GetGrain<IJobGrain>(record.Id);
        if (await job.GetRecord() is { } existing)
        {
            // A retry (lost response, reconnect, another silo) gets the job it made; another request under the id is a client bug.
            if (existing.SpecHash != record.SpecHash || existing.Kind != record.Kind)
                return Refused(RefusalKind.AlreadyExists, field, $"job {record.Id} exists with different parameters; choose a new UUID for a new job");
            return new SubmitOutcome(true, -1, null, "", "", existing.BaseSeed);
        }
        int waiting = requeued.Count + queue.Count;
        if (waiting >= MaxQueued)
            return Refused(RefusalKind.ResourceExhausted, field, $"the queue holds {waiting} jobs, the cluster's limit of {MaxQueued}; retry when one has finished");
        if (!workers.Values.Any(w => w.Packs.Contains(record.Pack, StringComparer.Ordinal)))
            return Refused(RefusalKind.FailedPrecondition, "pack",
                $"no worker in the cluster can load pack {record.Pack} ({workers.Count} workers); start a silo with a device for it");

        long baseSeed = seedPolicy switch
        {
            SeedPolicy.Random => Random.Shared.NextInt64(0, uint.MaxValue),
            SeedPolicy.Increment when nextSeedByClient.TryGetValue(record.ClientId, out long next) => next > long.MaxValue - (k - 1) ? 0 : next,
            _ => record.BaseSeed,
        };
        nextSeedByClient[record.ClientId] = baseSeed > long.MaxValue - k ? 0 : baseSeed + k;
        record = record with { BaseSeed = baseSeed };

        var queued = new QueuedJob(record.Id, record.ClientId, record.Kind, record.Pack, record.LoraKey, record.SpecJson, baseSeed, 0);
        queue.Enqueue(record.ClientId, queued);
        int position = Waiting.ToList().FindIndex(j => j.JobId == record.Id);
        if (!await job.Create(record, QueuedDraft(record.Kind, position)))
        {
            queue.Remove(queued);
            var raced = await job.GetRecord();
            return raced!.SpecHash == record.SpecHash
                ? new SubmitOutcome(true, -1, null, "", "", raced.BaseSeed)
                : Refused(RefusalKind.AlreadyExists, field, $"job {record.Id} exists with different parameters; choose a new UUID for a new job");
        }
        announced[record.Id] = position;
        logger.LogInformation("job {Job} queued at position {Position} for client {Client}: {Kind} on pack {Pack}",
            record.Id, position, record.ClientId, record.Kind, record.Pack);
        await SaveAsync();
        await DispatchAsync();
        return new SubmitOutcome(false, position, null, "", "", baseSeed);
    }

    static SubmitOutcome Refused(RefusalKind kind, string field, string message) => new(false, -1, kind, field, message, 0);

    static EventDraft QueuedDraft(WorkKind kind, int position) => kind == WorkKind.Generation
        ? OnceKeys.Draft(new JobQueuedEvent(position)) with { OnceKey = "" }
        : OnceKeys.Draft(new TrainingQueuedEvent(position)) with { OnceKey = "" };

    public async Task<CancelOutcome> Cancel(string jobId)
    {
        var waiting = requeued.FirstOrDefault(j => j.JobId == jobId) ?? queue.InOrder().FirstOrDefault(j => j.JobId == jobId);
        if (waiting is not null)
        {
            if (!requeued.Remove(waiting)) queue.Remove(waiting);
            await GrainFactory.GetGrain<IJobGrain>(jobId).Append(null, [waiting.Kind == WorkKind.Generation
                ? OnceKeys.Draft(new JobCancelledEvent(JobCancelledEvent.RemovedFromQueue))
                : OnceKeys.Draft(new TrainingCancelledEvent(JobCancelledEvent.RemovedFromQueue))]);
            await SaveAsync();
            await AnnouncePositionsAsync();
            return CancelOutcome.RemovedFromQueue;
        }
        if (running.TryGetValue(jobId, out var r))
        {
            try { await GrainFactory.GetGrain<IWorkerGrain>(r.WorkerId).Cancel(jobId); }
            catch (Exception e) { logger.LogWarning("cancel of job {Job} could not reach worker {Worker}: {Message}", jobId, r.WorkerId, e.Message); }
            return CancelOutcome.Interrupted;
        }
        return await GrainFactory.GetGrain<IJobGrain>(jobId).GetRecord() is null ? CancelOutcome.NotFound : CancelOutcome.AlreadyFinished;
    }

    public Task Heartbeat(WorkerStatus status) => Report(status);

    public async Task Report(WorkerStatus status)
    {
        if (!workers.TryGetValue(status.WorkerId, out var known))
        {
            if (!IsAlive(WorkerKey.Parse(status.WorkerId).Silo)) return;
            logger.LogInformation("worker {Worker} joined: packs {Packs}", status.WorkerId, string.Join(",", status.Packs));
        }
        else if (IsOlder(status, known)) return;
        workers[status.WorkerId] = status;
        // Its end was not reported (the scheduler moved silos meanwhile): the worker's word is enough.
        if (status.BusyJob is null && running.Values.FirstOrDefault(r => r.WorkerId == status.WorkerId) is { } stale
            && status.Assigned >= (known?.Assigned ?? 0) && known is not null)
        {
            running.Remove(stale.Job.JobId);
            await SaveAsync();
        }
        await DispatchAsync();
    }

    /// <summary>Sent before the status the scheduler has, or before the worker's latest assignment.</summary>
    static bool IsOlder(WorkerStatus status, WorkerStatus known) => status.Version <= known.Version || status.Assigned < known.Assigned;

    public async Task WorkerFree(WorkerStatus status)
    {
        if (workers.TryGetValue(status.WorkerId, out var known) && IsOlder(status, known)) return;
        var ended = running.Values.Where(r => r.WorkerId == status.WorkerId).ToList();
        foreach (var r in ended) running.Remove(r.Job.JobId);
        workers[status.WorkerId] = status;
        // One write for the end and the next assignment: a scheduler lost before it still lists the ended job as
        // running, which the worker's next status corrects (and a finished job is never run again).
        await DispatchAsync(changed: ended.Count > 0);
    }

    public Task<ClusterStatus> Status() =>
        Task.FromResult(new ClusterStatus([.. workers.Values.OrderBy(w => w.WorkerId, StringComparer.Ordinal)], requeued.Count + queue.Count, running.Count,
            Waiting.GroupBy(j => j.Pack).ToDictionary(g => g.Key, g => g.Count())));

    bool IsAlive(SiloAddress silo) =>
        membership.CurrentSnapshot.GetSiloStatus(silo) is not (SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping);

    bool IsFree(WorkerStatus w) => w.BusyJob is null && !running.Values.Any(r => r.WorkerId == w.WorkerId);

    /// <summary>Workers on silos the cluster declared dead are dropped; their jobs go to another worker or fail.</summary>
    async Task CheckAsync(CancellationToken _)
    {
        var lost = workers.Keys.Where(id => !IsAlive(WorkerKey.Parse(id).Silo)).ToList();
        // Jobs running on workers this scheduler never heard from (it was re-activated) whose silo is gone.
        var orphaned = running.Values.Where(r => !workers.ContainsKey(r.WorkerId) && !IsAlive(WorkerKey.Parse(r.WorkerId).Silo))
            .Select(r => r.WorkerId);
        var gone = lost.Concat(orphaned).Distinct().ToList();
        foreach (string id in gone) await LoseWorkerAsync(id);
        // A scheduler activated again knows no worker until their next heartbeats, and after a silo's death the
        // survivors' heartbeats may still go to the dead silo's scheduler for a while: give them time before
        // deciding that nobody can take a job.
        var since = activated > lastLoss ? activated : lastLoss;
        bool failed = DateTime.UtcNow - since > options.Value.WorkerReportGrace && await FailUnservableAsync();
        if (gone.Count > 0 || failed) await SaveAsync();
        await DispatchAsync();
    }

    async Task LoseWorkerAsync(string workerId)
    {
        workers.Remove(workerId);
        lastLoss = DateTime.UtcNow;
        logger.LogWarning("worker {Worker} lost: its silo left the cluster", workerId);
        foreach (var r in running.Values.Where(r => r.WorkerId == workerId).ToList())
        {
            running.Remove(r.Job.JobId);
            // Same seeds, next attempt: the events the lost run sent stay valid, its repeats are dropped.
            requeued.Add(r.Job with { Attempt = r.Job.Attempt + 1 });
            logger.LogWarning("job {Job} re-queued after losing worker {Worker} (attempt {Attempt})", r.Job.JobId, workerId, r.Job.Attempt + 1);
        }
    }

    /// <summary>Jobs no live worker can load the pack of fail now rather than wait for a silo that may never come.</summary>
    async Task<bool> FailUnservableAsync()
    {
        bool any = false;
        foreach (var j in Waiting.ToList())
        {
            if (workers.Values.Any(w => w.Packs.Contains(j.Pack, StringComparer.Ordinal))) continue;
            if (!requeued.Remove(j)) queue.Remove(j);
            string message = $"no worker left in the cluster can load pack {j.Pack}" + (j.Attempt > 0 ? " after the worker running the job was lost" : "");
            const string fix = "start a silo with a device for the pack, then submit the job again with a new job id";
            await GrainFactory.GetGrain<IJobGrain>(j.JobId).Append(null, [j.Kind == WorkKind.Generation
                ? OnceKeys.Draft(new JobFailedEvent(FailureCode.PackUnavailable, message, fix))
                : OnceKeys.Draft(new TrainingFailedEvent(FailureCode.PackUnavailable, message, fix))]);
            logger.LogWarning("job {Job} failed: {Message}", j.JobId, message);
            any = true;
        }
        return any;
    }

    /// <summary>Hands waiting jobs to free workers: in fair order, each to the best free worker that can load its pack.</summary>
    /// <param name="changed">The caller changed the state too: saved with the assignments, once.</param>
    async Task DispatchAsync(bool changed = false)
    {
        while (true)
        {
            var free = workers.Values.Where(IsFree).ToList();
            if (free.Count == 0) break;
            QueuedJob? next = null;
            WorkerStatus? worker = null;
            foreach (var j in Waiting)
            {
                worker = WorkerChoice.Best(free, j.Pack, j.LoraKey);
                if (worker is not null) { next = j; break; }
            }
            if (next is null || worker is null) break;
            // Taking the head dequeues it, which moves its client behind the others (round-robin);
            // a job further back is taken only when no free worker can load the packs ahead of it.
            if (!requeued.Remove(next) && !(queue.InOrder()[0] == next && queue.TryDequeue(out _))) queue.Remove(next);
            running[next.JobId] = new RunningJob(next, worker.WorkerId);
            announced.Remove(next.JobId);
            changed = true;
            bool taken;
            try
            {
                if (!await GrainFactory.GetGrain<IJobGrain>(next.JobId).BeginAttempt(next.Attempt))
                {
                    running.Remove(next.JobId);
                    logger.LogInformation("job {Job} had already finished; not run again", next.JobId);
                    continue;
                }
                taken = await GrainFactory.GetGrain<IWorkerGrain>(worker.WorkerId).Assign(next.ToAssignment());
            }
            catch (Exception e)
            {
                logger.LogWarning("worker {Worker} did not take job {Job}: {Message}", worker.WorkerId, next.JobId, e.Message);
                taken = false;
                workers.Remove(worker.WorkerId); // back when its heartbeat says it is alive
            }
            if (!taken)
            {
                running.Remove(next.JobId);
                requeued.Insert(0, next);
                if (workers.ContainsKey(worker.WorkerId)) workers[worker.WorkerId] = worker with { BusyJob = "?" };
                continue;
            }
            workers[worker.WorkerId] = worker with { BusyJob = next.JobId, Assigned = worker.Assigned + 1 };
            logger.LogInformation("job {Job} assigned to worker {Worker} (attempt {Attempt}); {Queued} waiting",
                next.JobId, worker.WorkerId, next.Attempt, requeued.Count + queue.Count);
        }
        if (!changed) return;
        await SaveAsync();
        await AnnouncePositionsAsync();
    }

    /// <summary>Tells each waiting job its new place when one ahead of it left.</summary>
    async Task AnnouncePositionsAsync()
    {
        int i = 0;
        var sent = new List<Task>();
        foreach (var j in Waiting.ToList())
        {
            if (j.Attempt == 0 && (!announced.TryGetValue(j.JobId, out int was) || was != i))
            {
                announced[j.JobId] = i;
                // Each job's grain, at once: a position may wait there to be stored with the job's next events.
                sent.Add(GrainFactory.GetGrain<IJobGrain>(j.JobId).Append(null, [QueuedDraft(j.Kind, i)]));
            }
            i++;
        }
        await Task.WhenAll(sent);
    }
}
