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
        return Accepted(await Scheduler.Submit(record, FineRewards.Core.Contracts.SeedPolicy.Fixed, 1)).Existing;
    }

    static (bool Existing, long BaseSeed) Accepted(SubmitOutcome outcome) =>
        outcome.Refusal is RefusalKind kind ? throw new HostException(kind, outcome.Field, outcome.Message) : (outcome.Existing, outcome.BaseSeed);

    public Task<CancelOutcome> CancelAsync(string jobId) => Scheduler.Cancel(jobId);

    public Task<ClusterStatus> StatusAsync() => Scheduler.Status();

    public Task<JobRecord?> FindAsync(string jobId) => grains.GetGrain<IJobGrain>(jobId).GetRecord();

    /// <summary>The job's events after <paramref name="afterSequence"/>, then each new one, until its last.</summary>
    public async IAsyncEnumerable<JobEvent> WatchGenerationAsync(string jobId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in WatchAsync(jobId, afterSequence, cancellationToken))
            yield return new JobEvent(jobId, e.Sequence, e.Time, JobEventData.FromJson(e.Json));
    }

    public async IAsyncEnumerable<TrainingEvent> WatchTrainingAsync(string trainingId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in WatchAsync(trainingId, afterSequence, cancellationToken))
            yield return new TrainingEvent(trainingId, e.Sequence, e.Time, TrainingEventData.FromJson(e.Json));
    }

    async IAsyncEnumerable<ClusterEvent> WatchAsync(string jobId, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var job = grains.GetGrain<IJobGrain>(jobId);
        if (await job.GetRecord() is null) throw new HostException(RefusalKind.NotFound, "job_id", $"no job {jobId}");
        long last = afterSequence;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await job.After(last, PollWait).WaitAsync(cancellationToken);
            foreach (var e in page.Events)
            {
                last = e.Sequence;
                yield return e;
            }
            if (page.State.IsFinished() && page.Events.Count == 0) yield break;
        }
    }
}
