namespace FineRewards.Server.Jobs;

/// <summary>
/// The jobs of one kind (generation, training) by id: in memory once seen, read back from the database
/// otherwise (jobs of earlier runs). Its <see cref="Gate"/> is the lock a manager holds while it checks and adds.
/// </summary>
/// <param name="load">Reads a job from the database; null when there is none.</param>
public sealed class JobRegistry<TJob>(Func<string, TJob?> load) where TJob : class
{
    readonly Dictionary<string, TJob> jobs = new(StringComparer.Ordinal);

    public object Gate { get; } = new();

    public TJob? Find(string id)
    {
        lock (Gate)
        {
            if (jobs.TryGetValue(id, out var job)) return job;
            job = load(id);
            if (job is not null) jobs[id] = job;
            return job;
        }
    }

    /// <summary>
    /// The job a submission under <paramref name="id"/> already made, or null for a new id. A retry (lost response,
    /// reconnect) gets the job it made; a different request under the same id is a client bug, refused.
    /// </summary>
    /// <exception cref="HostException">ALREADY_EXISTS: the id's job has other parameters.</exception>
    public TJob? Existing(string id, string specHash, Func<TJob, string> hashOf, string field, string noun)
    {
        lock (Gate)
        {
            if (Find(id) is not { } existing) return null;
            if (hashOf(existing) != specHash)
                throw new HostException(RefusalKind.AlreadyExists, field, $"{noun} {id} exists with different parameters; choose a new UUID for a new job");
            return existing;
        }
    }

    public void Add(string id, TJob job)
    {
        lock (Gate) jobs[id] = job;
    }

    public void Remove(string id)
    {
        lock (Gate) jobs.Remove(id);
    }

    /// <summary>
    /// Cancels a job that has left the queue: its runner sees the token at its next step and writes the cancelled
    /// event. Waits up to 10 s for that; a job that completed or failed first was already finished.
    /// </summary>
    public static async Task<CancelOutcome> CancelRunningAsync(CancellationTokenSource cancellation, Func<CancellationToken, Task> waitFinished,
        Func<JobState> state, CancellationToken cancellationToken)
    {
        cancellation.Cancel();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromSeconds(10));
        try { await waitFinished(wait.Token); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
        return state() is JobState.Completed or JobState.Failed ? CancelOutcome.AlreadyFinished : CancelOutcome.Interrupted;
    }
}
