using FineRewards.Server.Jobs;
using FineRewards.Contracts;
using FineRewards.Server.Feedback;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;

namespace FineRewards.Server.Work;

/// <summary>A job as a submit, start or find answers it: its id, state, whether it existed, and its last event's sequence.</summary>
public sealed record JobTicket(string Id, JobState State, bool Existing, long LastSequence);

/// <summary>
/// Generation jobs as the gRPC services see them, wherever they run: on this machine's queue
/// (<see cref="LocalGenerationJobs"/>) or on a cluster's workers. Knows nothing of gRPC.
/// </summary>
public interface IGenerationJobs
{
    /// <exception cref="FineRewards.Contracts.InputException">A field is invalid.</exception>
    /// <exception cref="HostException">Same id with other parameters, a full queue, no pack.</exception>
    Task<JobTicket> SubmitAsync(GenerationSubmission submission, CancellationToken cancellationToken);

    /// <summary>The job, or null when there is none with this id.</summary>
    Task<JobTicket?> FindAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>
    /// The job's events after <paramref name="afterSequence"/>, then each new one, up to its last;
    /// a null item means <paramref name="heartbeat"/> passed without an event (the stream says it is alive).
    /// </summary>
    /// <exception cref="HostException">No such job (NOT_FOUND).</exception>
    IAsyncEnumerable<JobEvent?> WatchAsync(string jobId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken);

    /// <returns>The outcome and the job's state after it (null when not found).</returns>
    Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string jobId, CancellationToken cancellationToken);

    /// <exception cref="HostException">Unknown job, finished job, its last candidate, or (in a cluster) not supported.</exception>
    Task<(SkipOutcome Outcome, long Sequence, JobState State)> SkipAsync(string jobId, int candidateIndex, CancellationToken cancellationToken);
}

/// <summary>Training jobs and their LoRAs as the gRPC services see them, on this machine or on a cluster.</summary>
public interface ITrainingJobs
{
    Task<JobTicket> StartAsync(TrainingSubmission submission, CancellationToken cancellationToken);

    Task<JobTicket?> FindAsync(string trainingId, CancellationToken cancellationToken);

    /// <summary>As <see cref="IGenerationJobs.WatchAsync"/>: null items are heartbeats.</summary>
    IAsyncEnumerable<TrainingEvent?> WatchAsync(string trainingId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken);

    Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string trainingId, CancellationToken cancellationToken);

    Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string profileId, CancellationToken cancellationToken);

    Task<LoraRecord> ActivateLoraAsync(string loraId, CancellationToken cancellationToken);

    Task<LoraRecord> DeleteLoraAsync(string loraId, CancellationToken cancellationToken);
}

/// <summary>Users' feedback (training data for a profile), kept by this machine or by a cluster's shared store.</summary>
public interface IHostFeedback
{
    /// <exception cref="FineRewards.Contracts.InputException">A field is invalid.</exception>
    /// <exception cref="HostException">No such image or job, or the id was used for other content.</exception>
    Task<(FeedbackRecord Record, bool Existing)> SubmitAsync(FeedbackSubmission submission, CancellationToken cancellationToken);

    Task<IReadOnlyList<FeedbackRecord>> ListAsync(string profileId, CancellationToken cancellationToken);
}
