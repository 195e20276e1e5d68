using FineRewards.Cluster.Storage;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Jobs;

/// <summary>
/// What is durable when: an event is stored before any watcher sees it, so a failover never renumbers or
/// loses an event someone has seen. An event that changes what the job is (its start, a candidate, its end)
/// is stored before <see cref="Append"/> returns. Progress (a step, a queue position: <see cref="EventDraft.MayWait"/>)
/// waits here, unseen, up to <see cref="BatchWindow"/>, and is stored in one write with the events held
/// beside it, or ahead of the next event that may not wait; losing this grain's silo loses at most that
/// window of progress that nobody has seen, and the stream continues after the last stored event.
/// </summary>
public sealed class JobGrain(IClusterStore store) : Grain, IJobGrain
{
    /// <summary>How long progress may wait to be stored with others: one store write per job per window at most.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(250);

    JobRecord? record;
    readonly List<ClusterEvent> events = [];
    readonly HashSet<string> onceKeys = new(StringComparer.Ordinal);
    // Progress accepted but not stored yet (so not seen by anyone), in order, numbered when stored.
    readonly List<EventDraft> held = [];
    IGrainTimer? flush;
    JobState state = JobState.Queued;
    int attempt;
    string? worker;       // running the current attempt, as it told (Attach); not stored: a grain activated again learns it from the next run
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A job whose grain was on a lost silo comes back from the store with every event it had acknowledged.
        if (await store.LoadJobAsync(Id) is { } stored)
        {
            record = stored.Job;
            foreach (var e in stored.Events) Remember(e);
        }
    }

    // A silo that stops in order deactivates its grains: what is held is stored first.
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => StoreHeldAsync();

    void Remember(ClusterEvent e)
    {
        events.Add(e);
        if (e.OnceKey.Length > 0) onceKeys.Add(e.OnceKey);
        if (e.NewState is JobState next) state = next;
    }

    public Task<JobRecord?> GetRecord() => Task.FromResult(record);

    public async Task<bool> Create(JobRecord newRecord, EventDraft first)
    {
        if (record is not null) return false;
        var e = new ClusterEvent(1, DateTimeOffset.UtcNow, first.Json, first.OnceKey, first.NewState);
        if (!await store.InsertJobAsync(newRecord, e)) return false;
        record = newRecord;
        Publish([e]);
        return true;
    }

    public async Task<bool> BeginAttempt(int next)
    {
        if (state.IsFinished()) return false;
        // What an earlier attempt reported stays valid: stored before the new run's events can follow it.
        if (next > attempt) await StoreHeldAsync();
        attempt = Math.Max(attempt, next);
        return true;
    }

    public async Task<AppendOutcome> Append(int? from, IReadOnlyList<EventDraft> drafts)
    {
        if (record is null) throw new InvalidOperationException($"job {Id} does not exist");
        if (from is int a && a < attempt) return AppendOutcome.StaleAttempt;
        if (state.IsFinished()) return AppendOutcome.JobFinished;
        bool urgent = false;
        foreach (var d in drafts)
        {
            if (d.OnceKey.Length > 0 && (onceKeys.Contains(d.OnceKey) || held.Any(h => h.OnceKey == d.OnceKey))) continue;
            held.Add(d);
            urgent |= !d.MayWait;
            if (d.OnceKey == OnceKeys.End) break; // nothing follows a job's last event
        }
        if (urgent) await StoreHeldAsync();
        else if (held.Count > 0 && flush is null)
            flush = this.RegisterGrainTimer(_ => StoreHeldAsync(), new GrainTimerCreationOptions(BatchWindow, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        return AppendOutcome.Appended;
    }

    /// <summary>Numbers what is held, stores it in one write, then lets watchers see it.</summary>
    async Task StoreHeldAsync()
    {
        flush?.Dispose();
        flush = null;
        if (held.Count == 0) return;
        var now = DateTimeOffset.UtcNow;
        var batch = held.Select((d, i) => new ClusterEvent(events.Count + i + 1, now, d.Json, d.OnceKey, d.NewState)).ToList();
        await store.AppendEventsAsync(Id, batch);
        held.Clear();
        Publish(batch);
    }

    void Publish(IReadOnlyList<ClusterEvent> added)
    {
        foreach (var e in added) Remember(e);
        var wake = changed;
        changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        wake.SetResult();
    }

    public async Task<EventPage> After(long afterSequence, TimeSpan wait)
    {
        if (events.Count <= afterSequence && !state.IsFinished() && wait > TimeSpan.Zero)
        {
            try { await changed.Task.WaitAsync(wait); }
            catch (TimeoutException) { }
        }
        int first = (int)Math.Clamp(afterSequence, 0, events.Count);
        return new EventPage(events.GetRange(first, events.Count - first), state);
    }

    public Task Attach(int from, string workerId)
    {
        if (from >= attempt) worker = workerId;
        return Task.CompletedTask;
    }

    public async Task<SkipAnswer> Skip(int candidateIndex)
    {
        // Reads only: appends may run while the worker is asked.
        string onceKey = OnceKeys.Of(new CandidateSkippedEvent(candidateIndex, 0, SkipOutcome.NotGenerated));
        ClusterEvent? SkippedEvent() => events.FirstOrDefault(e => e.OnceKey == onceKey);
        if (SkippedEvent() is { } earlier) return new SkipAnswer(SkipOutcome.AlreadySkipped, earlier.Sequence, state, null, "", "");
        if (state.IsFinished())
            return SkipAnswer.Refused(RefusalKind.FailedPrecondition, "job_id", $"job {Id} is {state.ToString().ToLowerInvariant()}; there is nothing left to skip", state);
        if (state == JobState.Queued || worker is null)
            return SkipAnswer.Refused(RefusalKind.FailedPrecondition, "job_id",
                $"job {Id} is waiting for a worker; in a cluster a candidate is skipped once its job runs (its started event), so try again then, or cancel the job (CancelJob)", state);
        var answer = await GrainFactory.GetGrain<Workers.IWorkerGrain>(worker).Skip(Id, candidateIndex);
        if (answer.Refusal is not null) return answer with { State = state };
        return SkippedEvent() is { } skipped
            ? answer with { Sequence = skipped.Sequence, State = state }
            : SkipAnswer.Refused(RefusalKind.FailedPrecondition, "job_id", $"job {Id} ended before candidate {candidateIndex} could be skipped", state);
    }
}
