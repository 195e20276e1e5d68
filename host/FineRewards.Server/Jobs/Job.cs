namespace FineRewards.Server.Jobs;

/// <summary>
/// One job in memory: its spec and its numbered events. Events are appended only after they are
/// stored, so a watcher never sees an event that a restart could lose; each append wakes the watchers.
/// </summary>
public sealed class Job : IQueuedWork
{
    readonly object gate = new();
    readonly List<JobEvent> events = [];
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; }
    public string ClientId { get; }
    public GenerationJobSpec Spec { get; }
    public string SpecHash { get; }
    /// <summary>The base seed after the seed policy: candidate i uses BaseSeed + i.</summary>
    public long BaseSeed { get; }
    public DateTimeOffset Created { get; }
    public JobState State { get; private set; }
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
        State = state;
        if (stored is not null) events.AddRange(stored);
    }

    public long LastSequence
    {
        get { lock (gate) return events.Count == 0 ? 0 : events[^1].Sequence; }
    }

    /// <summary>Numbers the event, has <paramref name="store"/> write it, then publishes it.</summary>
    internal JobEvent Append(JobEventData data, Action<JobEvent> store)
    {
        lock (gate)
        {
            if (State.IsFinished()) throw new InvalidOperationException($"job {Id} is {State}; no event may follow");
            var e = new JobEvent(Id, (events.Count == 0 ? 0 : events[^1].Sequence) + 1, DateTimeOffset.UtcNow, data);
            store(e);
            events.Add(e);
            if (data.NewState is JobState state) State = state;
            var wake = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wake.SetResult();
            return e;
        }
    }

    /// <summary>The events after <paramref name="afterSequence"/>, the state, and a task that completes at the next append.</summary>
    public (IReadOnlyList<JobEvent> Events, JobState State, Task Changed) After(long afterSequence)
    {
        lock (gate)
        {
            int first = events.FindIndex(e => e.Sequence > afterSequence);
            var list = first < 0 ? [] : events.GetRange(first, events.Count - first);
            return (list, State, changed.Task);
        }
    }

    /// <summary>Completes when the job has finished (or the token fires).</summary>
    public async Task WaitFinishedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (_, state, next) = After(long.MaxValue);
            if (state.IsFinished()) return;
            await next.WaitAsync(cancellationToken);
        }
    }
}
