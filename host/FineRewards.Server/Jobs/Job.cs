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
        // A job read back from the database answers a repeated skip as it did before the restart.
        foreach (var e in log.After(0).Events)
            if (e.Data is CandidateSkippedEvent s) skipped[s.CandidateIndex] = e.Sequence;
    }

    public long LastSequence => log.LastSequence;

    // Which candidates were skipped, and how far the runner got: the client's skip and the runner's
    // decisions (generate, emit, rank) take this lock, so no event about a candidate follows its skip.
    readonly object candidates = new();
    readonly Dictionary<int, long> skipped = [];   // candidate index -> sequence of its CandidateSkipped event
    bool generationStarted, ranked;

    /// <summary>Skips candidate <paramref name="index"/> (already checked to be in 0..K-1) and appends its event.</summary>
    /// <exception cref="HostException">The job has ranked its candidates or finished, or this is its last candidate.</exception>
    public (SkipOutcome Outcome, long Sequence) Skip(int index, Func<JobEventData, JobEvent> append)
    {
        lock (candidates)
        {
            if (skipped.TryGetValue(index, out long earlier)) return (SkipOutcome.AlreadySkipped, earlier);
            if (State.IsFinished())
                throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {Id} is {State.ToString().ToLowerInvariant()}; there is nothing left to skip");
            if (ranked)
                throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {Id} has already ranked its candidates; there is nothing left to skip");
            if (skipped.Count == Spec.K - 1)
                throw new HostException(RefusalKind.FailedPrecondition, "candidate_index", $"candidate {index} is the last one job {Id} has left; cancel the job (CancelJob) instead");
            var outcome = generationStarted ? SkipOutcome.ResultDropped : SkipOutcome.NotGenerated;
            long sequence;
            try { sequence = append(new CandidateSkippedEvent(index, BaseSeed + index, outcome)).Sequence; }
            catch (InvalidOperationException) when (State.IsFinished())
            {
                // It failed or was cancelled between the check above and the append.
                throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {Id} is {State.ToString().ToLowerInvariant()}; there is nothing left to skip");
            }
            skipped[index] = sequence;
            return (outcome, sequence);
        }
    }

    /// <summary>The runner starts generating: the candidates to generate (those not skipped yet), in order.</summary>
    internal IReadOnlyList<int> BeginGeneration()
    {
        lock (candidates)
        {
            generationStarted = true;
            return Enumerable.Range(0, Spec.K).Where(i => !skipped.ContainsKey(i)).ToList();
        }
    }

    public bool IsSkipped(int index)
    {
        lock (candidates) return skipped.ContainsKey(index);
    }

    /// <summary>Appends the events about candidates (index, event) whose candidate is not skipped, together.</summary>
    internal void AppendUnlessSkipped(IEnumerable<(int Index, JobEventData Data)> events, Action<IReadOnlyList<JobEventData>> append)
    {
        lock (candidates)
        {
            var kept = events.Where(e => !skipped.ContainsKey(e.Index)).Select(e => e.Data).ToList();
            if (kept.Count > 0) append(kept);
        }
    }

    /// <summary>The runner ranks now: later skips are refused. Returns the candidates skipped until now.</summary>
    internal IReadOnlySet<int> FreezeCandidates()
    {
        lock (candidates)
        {
            ranked = true;
            return skipped.Keys.ToHashSet();
        }
    }

    /// <summary>Numbers the event, has <paramref name="store"/> write it, then publishes it.</summary>
    internal JobEvent Append(JobEventData data, Action<JobEvent> store)
        => log.Append($"job {Id}", sequence => new JobEvent(Id, sequence, DateTimeOffset.UtcNow, data), data.NewState, store);

    /// <summary>Numbers the events, has <paramref name="store"/> write them together, then publishes them.</summary>
    internal IReadOnlyList<JobEvent> AppendMany(IReadOnlyList<JobEventData> data, Action<IReadOnlyList<JobEvent>> store)
    {
        var now = DateTimeOffset.UtcNow;
        return log.AppendMany($"job {Id}", data.Select(d => (Func<long, JobEvent>)(sequence => new JobEvent(Id, sequence, now, d))).ToList(),
            data.LastOrDefault(d => d.NewState is not null)?.NewState, store);
    }

    /// <summary>The events after <paramref name="afterSequence"/>, the state, and a task that completes at the next append.</summary>
    public (IReadOnlyList<JobEvent> Events, JobState State, Task Changed) After(long afterSequence) => log.After(afterSequence);

    /// <summary>Completes when the job has finished (or the token fires).</summary>
    public Task WaitFinishedAsync(CancellationToken cancellationToken) => log.WaitFinishedAsync(cancellationToken);
}
