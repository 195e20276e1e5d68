using FineRewards.Cluster.Storage;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Jobs;

public sealed class JobGrain(IClusterStore store) : Grain, IJobGrain
{
    JobRecord? record;
    readonly List<ClusterEvent> events = [];
    readonly HashSet<string> onceKeys = new(StringComparer.Ordinal);
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

    public Task<bool> BeginAttempt(int next)
    {
        if (state.IsFinished()) return Task.FromResult(false);
        attempt = Math.Max(attempt, next);
        return Task.FromResult(true);
    }

    public async Task<AppendOutcome> Append(int? from, IReadOnlyList<EventDraft> drafts)
    {
        if (record is null) throw new InvalidOperationException($"job {Id} does not exist");
        if (from is int a && a < attempt) return AppendOutcome.StaleAttempt;
        if (state.IsFinished()) return AppendOutcome.JobFinished;
        var now = DateTimeOffset.UtcNow;
        var kept = new List<ClusterEvent>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in drafts)
        {
            if (d.OnceKey.Length > 0 && (onceKeys.Contains(d.OnceKey) || !seen.Add(d.OnceKey))) continue;
            kept.Add(new ClusterEvent(events.Count + kept.Count + 1, now, d.Json, d.OnceKey, d.NewState));
            if (d.OnceKey == OnceKeys.End) break; // nothing follows a job's last event
        }
        if (kept.Count == 0) return AppendOutcome.Appended;
        await store.AppendEventsAsync(Id, kept);
        Publish(kept);
        return AppendOutcome.Appended;
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
