using FineRewards.Contracts;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Jobs;

public enum CancelOutcome { Interrupted, RemovedFromQueue, AlreadyFinished, NotFound }

public sealed record SubmitResult(Job Job, bool Existing);

/// <summary>
/// The job queue: validates and stores submissions, runs them one at a time (or
/// <see cref="HostOptions.Workers"/> at a time) fairly across clients, and cancels them. Jobs run
/// on the host's workers, never on a client's stream, so a disconnect leaves them running.
/// </summary>
public sealed class JobManager : BackgroundService
{
    readonly HostDatabase db;
    readonly ModelCatalog catalog;
    readonly HostLimits limits;
    readonly JobRunner runner;
    readonly int workers;
    readonly ILogger<JobManager> logger;

    readonly JobRegistry<Job> jobs;
    readonly object gate;   // the registry's: the queue and the seeds change under the same lock as the jobs
    readonly FairQueue<IQueuedWork> queue = new();
    readonly SemaphoreSlim waiting = new(0);
    readonly Dictionary<string, long> nextSeedByClient = new(StringComparer.Ordinal);

    public JobManager(HostDatabase db, ModelCatalog catalog, HostOptions options, JobRunner runner, ILogger<JobManager> logger)
    {
        this.db = db;
        this.catalog = catalog;
        limits = options.Limits;
        this.runner = runner;
        workers = Math.Max(1, options.Workers);
        this.logger = logger;
        jobs = new(id => db.LoadJob(id) is { } stored
            ? new Job(stored.Id, stored.ClientId, stored.Spec, stored.SpecHash, stored.BaseSeed, stored.Created, stored.State, stored.Events)
            : null);
        gate = jobs.Gate;
        MarkInterruptedJobs();
    }

    /// <summary>Jobs the last process left queued or running failed with it; say so in their event logs.</summary>
    void MarkInterruptedJobs()
    {
        foreach (string id in db.UnfinishedJobIds())
        {
            var job = Find(id)!;
            bool started = job.State == JobState.Running;
            Append(job, new JobFailedEvent(FailureCode.HostRestarted,
                started ? "host restarted while the job was running" : "host restarted before the job started",
                "submit the job again with a new job id"));
            using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = id });
            logger.LogWarning("job was {State} when the host stopped; marked failed", started ? "running" : "queued");
        }
    }

    public JobEvent Append(Job job, JobEventData data) => job.Append(data, db.AppendEvent);

    /// <summary>Appends several events of one job in one transaction (one flush to disk instead of one each).</summary>
    public IReadOnlyList<JobEvent> Append(Job job, IReadOnlyList<JobEventData> data) => job.AppendMany(data, db.AppendEvents);

    /// <summary>The job, from memory or from the database (jobs of earlier runs).</summary>
    public Job? Find(string jobId) => jobs.Find(jobId);

    public SubmitResult Submit(GenerationSubmission submission)
    {
        var (jobId, clientId, spec) = SubmissionValidator.Validate(submission, limits, catalog);
        string hash = spec.Hash();
        lock (gate)
        {
            if (jobs.Existing(jobId, hash, j => j.SpecHash, "job_id", "job") is { } existing) return new SubmitResult(existing, Existing: true);
            if (queue.Count >= limits.MaxQueuedJobs)
                throw new HostException(RefusalKind.ResourceExhausted, "job_id", $"the queue holds {queue.Count} jobs, the host's limit of {limits.MaxQueuedJobs}; retry when one has finished");

            long baseSeed = spec.SeedPolicy switch
            {
                SeedPolicy.Random => Random.Shared.NextInt64(0, uint.MaxValue),
                // Continuing would pass the largest seed: start again from 0 (docs/host.md, Seeds).
                SeedPolicy.Increment when nextSeedByClient.TryGetValue(clientId, out long next) => next > long.MaxValue - (spec.K - 1) ? 0 : next,
                _ => spec.BaseSeed,
            };
            nextSeedByClient[clientId] = baseSeed > long.MaxValue - spec.K ? 0 : baseSeed + spec.K;

            var job = new Job(jobId, clientId, spec, hash, baseSeed, DateTimeOffset.UtcNow);
            queue.Enqueue(clientId, job);
            int position = queue.InOrder().ToList().IndexOf((IQueuedWork)job);
            job.AnnouncedPosition = position;
            job.Append(new JobQueuedEvent(position), e => db.InsertJob(jobId, clientId, spec, hash, baseSeed, job.Created, e));
            jobs.Add(jobId, job);
            waiting.Release();
            using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
            logger.LogInformation("queued at position {Position} for client {Client}: K={K} {Width}x{Height} pack {Pack}",
                position, clientId, spec.K, spec.Width, spec.Height, spec.Pack);
            return new SubmitResult(job, Existing: false);
        }
    }

    public async Task<(CancelOutcome Outcome, Job? Job)> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        Job? job;
        lock (gate)
        {
            job = Find(jobId);
            if (job is null) return (CancelOutcome.NotFound, null);
            if (job.State.IsFinished()) return (CancelOutcome.AlreadyFinished, job);
            if (queue.Remove((IQueuedWork)job))
            {
                Append(job, new JobCancelledEvent(JobCancelledEvent.RemovedFromQueue));
                AnnouncePositions();
                Log(job, "removed from the queue");
                return (CancelOutcome.RemovedFromQueue, job);
            }
        }
        Log(job, "cancel requested while running");
        return (await JobRegistry<Job>.CancelRunningAsync(job.Cancellation, job.WaitFinishedAsync, () => job.State, cancellationToken), job);
    }

    /// <summary>Skips one candidate of a queued or running job (see <see cref="Job.Skip"/>).</summary>
    /// <exception cref="HostException">Unknown job (NOT_FOUND), finished or ranked job, or its last candidate (FAILED_PRECONDITION).</exception>
    /// <exception cref="FineRewards.Contracts.InputException">The index is outside 0..K-1.</exception>
    public (SkipOutcome Outcome, long Sequence, Job Job) Skip(string jobId, int candidateIndex)
    {
        var job = Find(jobId) ?? throw new HostException(RefusalKind.NotFound, "job_id", $"no job {jobId}");
        job.Spec.RequireCandidate(candidateIndex, jobId);
        var (outcome, sequence) = job.Skip(candidateIndex, e => Append(job, e));
        if (outcome != SkipOutcome.AlreadySkipped)
            Log(job, $"candidate {candidateIndex} skipped ({(outcome == SkipOutcome.NotGenerated ? "not generated" : "result dropped")})");
        return (outcome, sequence, job);
    }

    void Log(Job job, string message)
    {
        using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id });
        logger.LogInformation("{Message}", message);
    }

    /// <summary>Tells each waiting job its new place when one ahead of it left. Caller holds the lock.</summary>
    void AnnouncePositions()
    {
        var order = queue.InOrder();
        for (int i = 0; i < order.Count; i++)
        {
            if (order[i].AnnouncedPosition == i) continue;
            order[i].AnnouncedPosition = i;
            if (order[i] is Job job) Append(job, new JobQueuedEvent(i));
            else ((IExternalWork)order[i]).AnnounceQueued(i);
        }
    }

    /// <summary>Queues other work (a training job) behind the same device as generation jobs.</summary>
    /// <returns>Its position: jobs ahead of it.</returns>
    /// <exception cref="HostException">The queue is full.</exception>
    public int Enqueue(IExternalWork work)
    {
        lock (gate)
        {
            if (queue.Count >= limits.MaxQueuedJobs)
                throw new HostException(RefusalKind.ResourceExhausted, "training_id", $"the queue holds {queue.Count} jobs, the host's limit of {limits.MaxQueuedJobs}; retry when one has finished");
            queue.Enqueue(work.ClientId, work);
            int position = queue.InOrder().ToList().IndexOf(work);
            work.AnnouncedPosition = position;
            work.AnnounceQueued(position);
            waiting.Release();
            return position;
        }
    }

    /// <summary>Takes waiting work out of the queue; false when it is not waiting (running or finished).</summary>
    public bool RemoveFromQueue(IExternalWork work)
    {
        lock (gate)
        {
            if (!queue.Remove(work)) return false;
            AnnouncePositions();
            return true;
        }
    }

    /// <summary>What the device does (GetCapabilities' worker).</summary>
    public Work.DeviceUsage Usage { get; } = new();

    public int QueuedCount
    {
        get { lock (gate) return queue.Count; }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(stoppingToken), CancellationToken.None)));

    async Task WorkAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try { await waiting.WaitAsync(stopping); }
            catch (OperationCanceledException) { return; }
            IQueuedWork? work;
            lock (gate)
            {
                if (!queue.TryDequeue(out work)) continue; // it was cancelled while waiting
                AnnouncePositions();
            }
            var job = work as Job;
            Usage.Begin(work.Id, job?.Spec.Pack, job is null ? [] : [.. job.Spec.Loras.Select(l => Path.GetFileNameWithoutExtension(l.Path))]);
            try
            {
                if (job is not null) await runner.RunAsync(job, events => Append(job, events), stopping);
                else await ((IExternalWork)work).RunAsync(stopping);
            }
            finally { Usage.End(); }
        }
    }
}
