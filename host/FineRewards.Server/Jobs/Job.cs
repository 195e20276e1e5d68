namespace FineRewards.Server.Jobs;

/// <summary>
/// One job in memory: its spec and its numbered events. Events are appended only after they are
/// stored, so a watcher never sees an event that a restart could lose; each append wakes the watchers.
/// </summary>
public sealed class Job : IQueuedWork
{
    readonly EventLog<JobEvent> log;

    public string Id { get; }
    public string ClientId { get; }
    public GenerationJobSpec Spec { get; }
    public string SpecHash { get; }
    /// <summary>The base seed after the seed policy: candidate i uses BaseSeed + i.</summary>
    public long BaseSeed { get; }
    public DateTimeOffset Created { get; }
    public JobState State => log.State;
    /// <summary>Cancels this job only.</summary>
    public CancellationTokenSource Cancellation { get; } = new();
    /// <summary>The last queue position announced, so positions are announced only when they change.</summary>
    internal int? AnnouncedPosition { get; set; }
    int? IQueuedWork.AnnouncedPosition { get => AnnouncedPosition; set => AnnouncedPosition = value; }

    public Job(string id, string clientId, GenerationJobSpec spec, string specHash, long baseSeed, DateTimeOffset created,
        JobState state = JobState.Queued, IEnumerable<JobEvent>? stored = null)
    {
        Id = id;
        ClientId = clientId;
        Spec = spec;
        SpecHash = specHash;
        BaseSeed = baseSeed;
        Created = created;
        log = new EventLog<JobEvent>(e => e.Sequence, state, stored);
    }

    public long LastSequence => log.LastSequence;

    /// <summary>Numbers the event, has <paramref name="store"/> write it, then publishes it.</summary>
    internal JobEvent Append(JobEventData data, Action<JobEvent> store)
        => log.Append($"job {Id}", sequence => new JobEvent(Id, sequence, DateTimeOffset.UtcNow, data), data.NewState, store);

    /// <summary>The events after <paramref name="afterSequence"/>, the state, and a task that completes at the next append.</summary>
    public (IReadOnlyList<JobEvent> Events, JobState State, Task Changed) After(long afterSequence) => log.After(afterSequence);

    /// <summary>Completes when the job has finished (or the token fires).</summary>
    public Task WaitFinishedAsync(CancellationToken cancellationToken) => log.WaitFinishedAsync(cancellationToken);
}
