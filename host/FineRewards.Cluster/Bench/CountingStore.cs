using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Storage;
using FeedbackRecord = FineRewards.Server.Storage.FeedbackRecord;

namespace FineRewards.Cluster.Bench;

/// <summary>Any store, counting its writes: the benchmark reports them per job.</summary>
sealed class CountingStore(IClusterStore store) : IClusterStore
{
    public long Writes => Interlocked.Read(ref writes);
    long writes;

    T Count<T>(T task)
    {
        Interlocked.Increment(ref writes);
        return task;
    }

    public Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first) => Count(store.InsertJobAsync(job, first));

    public Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId) => store.LoadJobAsync(jobId);

    public Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events) => Count(store.AppendEventsAsync(jobId, events));

    public Task RegisterLoraAsync(LoraRecord lora) => Count(store.RegisterLoraAsync(lora));

    public Task<LoraRecord?> FindLoraAsync(string id) => store.FindLoraAsync(id);

    public Task SaveSchedulerAsync(SchedulerSnapshot snapshot) => Count(store.SaveSchedulerAsync(snapshot));

    public Task<SchedulerSnapshot?> LoadSchedulerAsync() => store.LoadSchedulerAsync();

    public Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string? profileId) => store.ListLorasAsync(profileId);

    public Task<LoraRecord?> ActivateLoraAsync(string id) => Count(store.ActivateLoraAsync(id));

    public Task<LoraRecord?> DeleteLoraAsync(string id) => Count(store.DeleteLoraAsync(id));

    public Task<(FeedbackRecord Stored, bool Existing)> InsertFeedbackAsync(FeedbackRecord feedback) => Count(store.InsertFeedbackAsync(feedback));

    public Task<IReadOnlyList<FeedbackRecord>> FeedbackOfAsync(string profileId) => store.FeedbackOfAsync(profileId);
}
