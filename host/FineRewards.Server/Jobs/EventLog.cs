namespace FineRewards.Server.Jobs;

/// <summary>
/// The numbered event stream of a job (generation or training): an event gets the next sequence
/// number, is stored, and only then becomes visible, so a watcher never sees an event a restart
/// could lose; each append wakes the watchers; a finished job takes no more events.
/// </summary>
public sealed class EventLog<TEvent>(Func<TEvent, long> sequenceOf, JobState state, IEnumerable<TEvent>? stored)
{
    readonly object gate = new();
    readonly List<TEvent> events = stored is null ? [] : [.. stored];
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public JobState State { get; private set; } = state;

    public long LastSequence
    {
        get { lock (gate) return events.Count == 0 ? 0 : sequenceOf(events[^1]); }
    }

    /// <summary>Creates the event with the next sequence number, has <paramref name="store"/> write it, then publishes it.</summary>
    /// <param name="owner">How errors name the job, e.g. "job 42".</param>
    public TEvent Append(string owner, Func<long, TEvent> create, JobState? newState, Action<TEvent> store) =>
        AppendMany(owner, [create], newState, events => store(events[0]))[0];

    /// <summary>
    /// Numbers several events consecutively, has <paramref name="store"/> write them together (one
    /// transaction, one flush to disk), then publishes them; <paramref name="newState"/> applies after the last.
    /// </summary>
    public IReadOnlyList<TEvent> AppendMany(string owner, IReadOnlyList<Func<long, TEvent>> creates, JobState? newState, Action<IReadOnlyList<TEvent>> store)
    {
        lock (gate)
        {
            if (State.IsFinished()) throw new InvalidOperationException($"{owner} is {State}; no event may follow");
            long last = events.Count == 0 ? 0 : sequenceOf(events[^1]);
            var created = creates.Select((create, i) => create(last + 1 + i)).ToList();
            if (created.Count == 0) return created;
            store(created);
            events.AddRange(created);
            if (newState is JobState next) State = next;
            var wake = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wake.SetResult();
            return created;
        }
    }

    /// <summary>The events after <paramref name="afterSequence"/>, the state, and a task that completes at the next append.</summary>
    public (IReadOnlyList<TEvent> Events, JobState State, Task Changed) After(long afterSequence)
    {
        lock (gate)
        {
            int first = events.FindIndex(e => sequenceOf(e) > afterSequence);
            var list = first < 0 ? [] : events.GetRange(first, events.Count - first);
            return (list, State, changed.Task);
        }
    }

    /// <summary>Completes when the job has finished (or the token fires).</summary>
    public async Task WaitFinishedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (_, finalState, next) = After(long.MaxValue);
            if (finalState.IsFinished()) return;
            await next.WaitAsync(cancellationToken);
        }
    }
}
