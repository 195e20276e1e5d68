using FineRewards.Server.Jobs;

namespace FineRewards.Server.Training;

/// <summary>
/// One training job in memory: spec and numbered events, with the same rules as a generation
/// <see cref="Job"/> (an event is published only after it is stored; each append wakes watchers).
/// It waits in the host's one queue as <see cref="IExternalWork"/>.
/// </summary>
public sealed class TrainingJob : IExternalWork
{
    readonly EventLog<TrainingEvent> log;
    readonly Action<TrainingEvent> store;
    readonly Func<TrainingJob, CancellationToken, Task> run;

    public string Id { get; }
    public string ClientId { get; }
    public TrainingJobSpec Spec { get; }
    public string SpecHash { get; }
    public DateTimeOffset Created { get; }
    public JobState State => log.State;
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
        log = new EventLog<TrainingEvent>(e => e.Sequence, state, stored);
    }

    public long LastSequence => log.LastSequence;

    /// <summary>Numbers the event, stores it (with <paramref name="storeOverride"/> when given), then publishes it.</summary>
    public TrainingEvent Append(TrainingEventData data, Action<TrainingEvent>? storeOverride = null)
        => log.Append($"training job {Id}", sequence => new TrainingEvent(Id, sequence, DateTimeOffset.UtcNow, data), data.NewState, storeOverride ?? store);

    public (IReadOnlyList<TrainingEvent> Events, JobState State, Task Changed) After(long afterSequence) => log.After(afterSequence);

    public Task WaitFinishedAsync(CancellationToken cancellationToken) => log.WaitFinishedAsync(cancellationToken);

    public void AnnounceQueued(int position) => Append(new TrainingQueuedEvent(position));

    public Task RunAsync(CancellationToken stopping) => run(this, stopping);
}
