using System.Runtime.CompilerServices;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;

namespace FineRewards.Server.Work;

/// <summary>This machine's queue (<see cref="JobManager"/>) behind <see cref="IGenerationJobs"/>: what `serve` without a cluster runs.</summary>
public sealed class LocalGenerationJobs(JobManager jobs, TrainingManager training) : IGenerationJobs
{
    public Task<JobTicket> SubmitAsync(GenerationSubmission submission, CancellationToken cancellationToken)
    {
        // A LoraWeight may name a registered LoRA by its id.
        var (job, existing) = jobs.Submit(submission with { Loras = training.ResolveLoras(submission.Loras) });
        return Task.FromResult(new JobTicket(job.Id, job.State, existing, job.LastSequence));
    }

    public Task<JobTicket?> FindAsync(string jobId, CancellationToken cancellationToken) =>
        Task.FromResult(jobs.Find(jobId) is { } job ? new JobTicket(job.Id, job.State, true, job.LastSequence) : null);

    public IAsyncEnumerable<JobEvent?> WatchAsync(string jobId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        var job = jobs.Find(jobId) ?? throw new HostException(RefusalKind.NotFound, "job_id", $"no job {jobId}");
        return EventFollow.FollowAsync(job.After, e => e.Sequence, afterSequence, heartbeat, cancellationToken);
    }

    public async Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        var (outcome, job) = await jobs.CancelAsync(jobId, cancellationToken);
        return (outcome, job?.State);
    }

    public Task<(SkipOutcome Outcome, long Sequence, JobState State)> SkipAsync(string jobId, int candidateIndex, CancellationToken cancellationToken)
    {
        var (outcome, sequence, job) = jobs.Skip(jobId, candidateIndex);
        return Task.FromResult((outcome, sequence, job.State));
    }
}

/// <summary>This machine's training jobs and LoRA registry (<see cref="TrainingManager"/>) behind <see cref="ITrainingJobs"/>.</summary>
public sealed class LocalTrainingJobs(TrainingManager training) : ITrainingJobs
{
    public Task<JobTicket> StartAsync(TrainingSubmission submission, CancellationToken cancellationToken)
    {
        var (job, existing) = training.Start(submission);
        return Task.FromResult(new JobTicket(job.Id, job.State, existing, job.LastSequence));
    }

    public Task<JobTicket?> FindAsync(string trainingId, CancellationToken cancellationToken) =>
        Task.FromResult(training.Find(trainingId) is { } job ? new JobTicket(job.Id, job.State, true, job.LastSequence) : null);

    public IAsyncEnumerable<TrainingEvent?> WatchAsync(string trainingId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        var job = training.Find(trainingId) ?? throw new HostException(RefusalKind.NotFound, "training_id", $"no training job {trainingId}");
        return EventFollow.FollowAsync(job.After, e => e.Sequence, afterSequence, heartbeat, cancellationToken);
    }

    public async Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string trainingId, CancellationToken cancellationToken)
    {
        var (outcome, job) = await training.CancelAsync(trainingId, cancellationToken);
        return (outcome, job?.State);
    }

    public Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string profileId, CancellationToken cancellationToken) =>
        Task.FromResult(training.ListLoras(profileId));

    public Task<LoraRecord> ActivateLoraAsync(string loraId, CancellationToken cancellationToken) => Task.FromResult(training.ActivateLora(loraId));

    public Task<LoraRecord> DeleteLoraAsync(string loraId, CancellationToken cancellationToken) => Task.FromResult(training.DeleteLora(loraId));
}

/// <summary>This machine's feedback (<see cref="FeedbackStore"/>, its SQLite) behind <see cref="IHostFeedback"/>.</summary>
public sealed class LocalFeedback(FeedbackStore feedback) : IHostFeedback
{
    public Task<(FeedbackRecord Record, bool Existing)> SubmitAsync(FeedbackSubmission submission, CancellationToken cancellationToken) =>
        Task.FromResult(feedback.Submit(submission));

    public Task<IReadOnlyList<FeedbackRecord>> ListAsync(string profileId, CancellationToken cancellationToken) => Task.FromResult(feedback.List(profileId));
}

static class EventFollow
{
    /// <summary>An in-memory event log followed from <paramref name="afterSequence"/> to its last event; null after each quiet <paramref name="heartbeat"/>.</summary>
    public static async IAsyncEnumerable<T?> FollowAsync<T>(Func<long, (IReadOnlyList<T> Events, JobState State, Task Changed)> after,
        Func<T, long> sequenceOf, long afterSequence, TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken ct) where T : class
    {
        long last = afterSequence;
        while (true)
        {
            var (events, state, changed) = after(last);
            foreach (var e in events)
            {
                yield return e;
                last = sequenceOf(e);
            }
            if (state.IsFinished()) yield break; // every event up to the final one is sent
            // The job goes on without this stream: a cancelled wait ends the stream, not the job.
            var tick = Task.Delay(heartbeat, ct);
            if (await Task.WhenAny(changed, tick) == tick)
            {
                ct.ThrowIfCancellationRequested();
                yield return null;
            }
        }
    }
}
