using FineRewards.Server.Jobs;

namespace FineRewards.Server.Training;

/// <summary>
/// One training job in memory: spec and numbered events, with the same rules as a generation
/// <see cref="Job"/> (an event is published only after it is stored; each append wakes watchers).
/// It waits in the host's one queue as <see cref="IExternalWork"/>.
/// </summary>
public sealed class TrainingJob : IExternalWork
{
    readonly object gate = new();
    readonly List<TrainingEvent> events = [];
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Action<TrainingEvent> store;
    readonly Func<TrainingJob, CancellationToken, Task> run;

    public string Id { get; }
    public string ClientId { get; }
    public TrainingJobSpec Spec { get; }
    public string SpecHash { get; }
    public DateTimeOffset Created { get; }
    public JobState State { get; private set; }
    public CancellationTokenSource Cancellation { get; } = new();
    public int? AnnouncedPosition { get; set; }

    public TrainingJob(string id, string clientId, TrainingJobSpec spec, string specHash, DateTimeOffset created, Action<TrainingEvent> store,
        Func<TrainingJob, CancellationToken, Task> run, JobState state = JobState.Queued, IEnumerable<TrainingEvent>? stored = null)
    {
        Id = id;
        ClientId = clientId;
        Spec = spec;
        SpecHash = specHash;
        Created = created;
        this.store = store;
        this.run = run;
        State = state;
        if (stored is not null) events.AddRange(stored);
    }

    public long LastSequence
    {
        get { lock (gate) return events.Count == 0 ? 0 : events[^1].Sequence; }
    }

    /// <summary>Numbers the event, stores it (with <paramref name="storeOverride"/> when given), then publishes it.</summary>
    public TrainingEvent Append(TrainingEventData data, Action<TrainingEvent>? storeOverride = null)
    {
        lock (gate)
        {
            if (State.IsFinished()) throw new InvalidOperationException($"training job {Id} is {State}; no event may follow");
            var e = new TrainingEvent(Id, (events.Count == 0 ? 0 : events[^1].Sequence) + 1, DateTimeOffset.UtcNow, data);
            (storeOverride ?? store)(e);
            events.Add(e);
            if (data.NewState is JobState state) State = state;
            var wake = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wake.SetResult();
            return e;
        }
    }

    public (IReadOnlyList<TrainingEvent> Events, JobState State, Task Changed) After(long afterSequence)
    {
        lock (gate)
        {
            int first = events.FindIndex(e => e.Sequence > afterSequence);
            var list = first < 0 ? [] : events.GetRange(first, events.Count - first);
            return (list, State, changed.Task);
        }
    }

    public async Task WaitFinishedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (_, state, next) = After(long.MaxValue);
            if (state.IsFinished()) return;
            await next.WaitAsync(cancellationToken);
        }
    }

    public void AnnounceQueued(int position) => Append(new TrainingQueuedEvent(position));

    public Task RunAsync(CancellationToken stopping) => run(this, stopping);
}
