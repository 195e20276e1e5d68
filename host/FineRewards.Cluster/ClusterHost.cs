using System.Runtime.CompilerServices;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster;

/// <summary>
/// The cluster as the host's services see it: submit, watch and cancel jobs and training jobs with
/// the host's own domain types, from any silo (or a client of the cluster). Knows nothing of gRPC.
/// </summary>
public sealed class ClusterHost(IGrainFactory grains)
{
    /// <summary>How long one poll of a job's events waits for the next event.</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(10);

    ISchedulerGrain Scheduler => grains.GetGrain<ISchedulerGrain>(SchedulerGrain.Key);

    /// <summary>Queues a validated job; a retry with the same spec returns the existing one.</summary>
    /// <exception cref="HostException">Same id with other parameters, a full queue, or no worker for the pack.</exception>
    public async Task<(bool Existing, long BaseSeed)> SubmitGenerationAsync(string jobId, string clientId, GenerationJobSpec spec)
    {
        var record = new JobRecord(jobId, WorkKind.Generation, clientId, spec.ToJson(), spec.Hash(), spec.BaseSeed, spec.Pack,
            LoraKeys.Of(spec), DateTimeOffset.UtcNow);
        return Accepted(await Scheduler.Submit(record, spec.SeedPolicy, spec.K));
    }

    /// <summary>Queues a validated training job on the same workers as generation jobs.</summary>
    public async Task<bool> SubmitTrainingAsync(string trainingId, string clientId, TrainingJobSpec spec)
    {
        var record = new JobRecord(trainingId, WorkKind.Training, clientId, spec.ToJson(), spec.Hash(), spec.Seed, spec.Pack, "",
            DateTimeOffset.UtcNow);
        return Accepted(await Scheduler.Submit(record, FineRewards.Contracts.SeedPolicy.Fixed, 1)).Existing;
    }

    static (bool Existing, long BaseSeed) Accepted(SubmitOutcome outcome) =>
        outcome.Refusal is RefusalKind kind ? throw new HostException(kind, outcome.Field, outcome.Message) : (outcome.Existing, outcome.BaseSeed);

    public Task<CancelOutcome> CancelAsync(string jobId) => Scheduler.Cancel(jobId);

    /// <summary>Skips a candidate of a running generation job: its grain tells the worker running it (see <see cref="IJobGrain.Skip"/>).</summary>
    /// <exception cref="HostException">No such job (NOT_FOUND); queued, finished or ranked, or its last candidate (FAILED_PRECONDITION).</exception>
    /// <exception cref="FineRewards.Contracts.InputException">The index is outside 0..K-1.</exception>
    public async Task<(SkipOutcome Outcome, long Sequence, JobState State)> SkipAsync(string jobId, int candidateIndex)
    {
        var job = grains.GetGrain<IJobGrain>(jobId);
        if (await job.GetRecord() is not { Kind: WorkKind.Generation } record) throw new HostException(RefusalKind.NotFound, "job_id", $"no job {jobId}");
        GenerationJobSpec.FromJson(record.SpecJson).RequireCandidate(candidateIndex, jobId);
        var answer = await job.Skip(candidateIndex);
        return answer.Refusal is RefusalKind kind ? throw new HostException(kind, answer.Field, answer.Message) : (answer.Outcome!.Value, answer.Sequence, answer.State);
    }

    public Task<ClusterStatus> StatusAsync() => Scheduler.Status();

    public Task<JobRecord?> FindAsync(string jobId) => grains.GetGrain<IJobGrain>(jobId).GetRecord();

    /// <summary>The job's state and the sequence of its last event; null when there is no such job.</summary>
    public async Task<(JobState State, long LastSequence)?> StateAsync(string jobId)
    {
        var job = grains.GetGrain<IJobGrain>(jobId);
        if (await job.GetRecord() is null) return null;
        var page = await job.After(0, TimeSpan.Zero);
        return (page.State, page.Events.Count == 0 ? 0 : page.Events[^1].Sequence);
    }

    /// <summary>The job's events after <paramref name="afterSequence"/>, then each new one, until its last.</summary>
    public async IAsyncEnumerable<JobEvent> WatchGenerationAsync(string jobId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in FollowGenerationAsync(jobId, afterSequence, PollWait, cancellationToken))
            if (e is not null) yield return e;
    }

    public async IAsyncEnumerable<TrainingEvent> WatchTrainingAsync(string trainingId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in FollowTrainingAsync(trainingId, afterSequence, PollWait, cancellationToken))
            if (e is not null) yield return e;
    }

    /// <summary>As <see cref="WatchGenerationAsync"/>, with a null item after each <paramref name="wait"/> without an event (a stream's heartbeat).</summary>
    public async IAsyncEnumerable<JobEvent?> FollowGenerationAsync(string jobId, long afterSequence, TimeSpan wait, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in FollowAsync(jobId, "job_id", afterSequence, wait, cancellationToken))
            yield return e is null ? null : new JobEvent(jobId, e.Sequence, e.Time, JobEventData.FromJson(e.Json));
    }

    public async IAsyncEnumerable<TrainingEvent?> FollowTrainingAsync(string trainingId, long afterSequence, TimeSpan wait, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in FollowAsync(trainingId, "training_id", afterSequence, wait, cancellationToken))
            yield return e is null ? null : new TrainingEvent(trainingId, e.Sequence, e.Time, TrainingEventData.FromJson(e.Json));
    }

    async IAsyncEnumerable<ClusterEvent?> FollowAsync(string jobId, string field, long afterSequence, TimeSpan wait, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var job = grains.GetGrain<IJobGrain>(jobId);
        if (await job.GetRecord() is null) throw new HostException(RefusalKind.NotFound, field, $"no job {jobId}");
        long last = afterSequence;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await job.After(last, wait).WaitAsync(cancellationToken);
            foreach (var e in page.Events)
            {
                last = e.Sequence;
                yield return e;
            }
            if (page.State.IsFinished() && page.Events.Count == 0) yield break;
            if (page.Events.Count == 0) yield return null;
        }
    }
}
