using System.Collections.Concurrent;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Storage;
using FeedbackRecord = FineRewards.Server.Storage.FeedbackRecord;

namespace FineRewards.Cluster.Bench;

/// <summary>Any store, counting its writes by what they carry: the benchmark reports them per job.</summary>
sealed class CountingStore(IClusterStore store) : IClusterStore
{
    public const string Inserts = "insert", Events = "events", Progress = "progress", Positions = "positions", Scheduler = "scheduler", Other = "other";

    readonly ConcurrentDictionary<string, long> writes = new(StringComparer.Ordinal);

    public long Writes => writes.Values.Sum();

    /// <summary>Writes so far by kind (<see cref="Inserts"/>, <see cref="Events"/>, ...).</summary>
    public IReadOnlyDictionary<string, long> ByKind => new Dictionary<string, long>(writes);

    T Count<T>(string kind, T task)
    {
        writes.AddOrUpdate(kind, 1, (_, n) => n + 1);
        return task;
    }

    /// <summary>Writes that are neither jobs, events nor the scheduler's (the LoRA registry, feedback).</summary>
    T Count<T>(T task) => Count(Other, task);

    /// <summary>
    /// An event write is counted as progress or positions only when it carries nothing else: a batch that
    /// holds a start, a candidate or an end is an <see cref="Events"/> write whatever rides with it.
    /// </summary>
    static string KindOf(IReadOnlyList<ClusterEvent> events) =>
        events.All(e => IsProgress(e.OnceKey)) ? Progress
        : events.All(e => IsProgress(e.OnceKey) || IsPosition(e)) ? Positions
        : Events;

    static bool IsProgress(string onceKey) =>
        onceKey.StartsWith("progress:", StringComparison.Ordinal) || onceKey.StartsWith("loss:", StringComparison.Ordinal)
        || onceKey.StartsWith("phase:", StringComparison.Ordinal);

    static bool IsPosition(ClusterEvent e) => e.OnceKey.Length == 0 && e.NewState == FineRewards.Server.Jobs.JobState.Queued;

    public Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first) => Count(Inserts, store.InsertJobAsync(job, first));

    public Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId) => store.LoadJobAsync(jobId);

    public Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events) => Count(KindOf(events), store.AppendEventsAsync(jobId, events));

    public Task RegisterLoraAsync(LoraRecord lora) => Count(store.RegisterLoraAsync(lora));

    public Task<LoraRecord?> FindLoraAsync(string id) => store.FindLoraAsync(id);

    public Task SaveSchedulerAsync(SchedulerSnapshot snapshot) => Count(Scheduler, store.SaveSchedulerAsync(snapshot));

    public Task<SchedulerSnapshot?> LoadSchedulerAsync() => store.LoadSchedulerAsync();

    public Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string? profileId) => store.ListLorasAsync(profileId);

    public Task<LoraRecord?> ActivateLoraAsync(string id) => Count(store.ActivateLoraAsync(id));

    public Task<LoraRecord?> DeleteLoraAsync(string id) => Count(store.DeleteLoraAsync(id));

    public Task<(FeedbackRecord Stored, bool Existing)> InsertFeedbackAsync(FeedbackRecord feedback) => Count(store.InsertFeedbackAsync(feedback));

    public Task<IReadOnlyList<FeedbackRecord>> FeedbackOfAsync(string profileId) => store.FeedbackOfAsync(profileId);
}
