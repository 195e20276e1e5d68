using Orleans.Concurrency;

namespace FineRewards.Cluster.Jobs;

/// <summary>
/// One job (generation or training), keyed by its id: its record and numbered events, as the single
/// host's event log keeps them. Every event is stored (<see cref="Storage.IClusterStore"/>) before
/// anyone sees it, so a job outlives the silo its grain was on (what is durable when: <see cref="JobGrain"/>).
/// </summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>The job, or null when no job has this id.</summary>
    Task<JobRecord?> GetRecord();

    /// <summary>Stores a new job with its first event; false when the id is taken.</summary>
    Task<bool> Create(JobRecord record, EventDraft first);

    /// <summary>
    /// The scheduler hands the job to a worker: appends from earlier attempts are refused from now on.
    /// False when the job has finished (a scheduler that lost track of it must not run it again).
    /// </summary>
    Task<bool> BeginAttempt(int attempt);

    /// <summary>
    /// Numbers and stores the drafts (one store write), dropping those whose once key was seen; drafts that
    /// may wait (<see cref="EventDraft.MayWait"/>) are stored with later ones or within <see cref="JobGrain.BatchWindow"/>.
    /// <paramref name="attempt"/>: the worker's attempt, or null for the scheduler (queue positions,
    /// a job no worker can take).
    /// </summary>
    Task<AppendOutcome> Append(int? attempt, IReadOnlyList<EventDraft> drafts);

    /// <summary>Events after <paramref name="afterSequence"/>; waits up to <paramref name="wait"/> for one when there are none.</summary>
    [AlwaysInterleave]
    Task<EventPage> After(long afterSequence, TimeSpan wait);

    /// <summary>The worker running <paramref name="attempt"/> says so when its run starts: skips go to it.</summary>
    Task Attach(int attempt, string workerId);

    /// <summary>
    /// Skips a candidate (its index already checked against K) of the running job: the worker running it is told, and
    /// its device reports the skipped event through <see cref="Append"/> meanwhile (hence interleaved). A job that
    /// is queued or finished is refused; a candidate skipped before answers as it did then.
    /// </summary>
    [AlwaysInterleave]
    Task<SkipAnswer> Skip(int candidateIndex);
}
