using System.Collections.Concurrent;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Storage;

namespace FineRewards.Cluster.Storage;

/// <summary>
/// The shared tables in this process's memory: for silos that share one process (the tests'
/// in-process cluster, <c>bench cluster</c>), where it outlives any one silo as the database would.
/// </summary>
public sealed class MemoryClusterStore : IClusterStore
{
    readonly ConcurrentDictionary<string, (JobRecord Job, List<ClusterEvent> Events)> jobs = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, LoraRecord> loras = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, FeedbackRecord> feedback = new(StringComparer.Ordinal);
    SchedulerSnapshot? scheduler;

    public Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first)
    {
        return Task.FromResult(jobs.TryAdd(job.Id, (job, [first])));
    }

    public Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId)
    {
        if (!jobs.TryGetValue(jobId, out var row)) return Task.FromResult<(JobRecord, IReadOnlyList<ClusterEvent>)?>(null);
        lock (row.Events) return Task.FromResult<(JobRecord, IReadOnlyList<ClusterEvent>)?>((row.Job, row.Events.ToList()));
    }

    public Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events)
    {
        if (!jobs.TryGetValue(jobId, out var row)) throw new InvalidOperationException($"job {jobId} is not stored");
        lock (row.Events)
        {
            long last = row.Events.Count == 0 ? 0 : row.Events[^1].Sequence;
            // The database's primary key (job, sequence) refuses a gap or a repeat the same way.
            if (events.Count > 0 && events[0].Sequence != last + 1)
                throw new InvalidOperationException($"job {jobId}: event {events[0].Sequence} does not follow {last}");
            row.Events.AddRange(events);
        }
        return Task.CompletedTask;
    }

    public Task RegisterLoraAsync(LoraRecord lora)
    {
        lock (loras)
        {
            if (lora.Active) DeactivateProfile(lora.ProfileId);
            loras[lora.Id] = lora;
        }
        return Task.CompletedTask;
    }

    void DeactivateProfile(string profileId)
    {
        foreach (var other in loras.Values.Where(l => l.ProfileId == profileId && l.Active).ToList()) loras[other.Id] = other with { Active = false };
    }

    public Task<LoraRecord?> FindLoraAsync(string id) => Task.FromResult(loras.GetValueOrDefault(id));

    public Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string? profileId)
    {
        lock (loras)
            return Task.FromResult<IReadOnlyList<LoraRecord>>([.. loras.Values.Where(l => profileId is null || l.ProfileId == profileId)
                .OrderByDescending(l => l.Created).ThenBy(l => l.Id, StringComparer.Ordinal)]);
    }

    public Task<LoraRecord?> ActivateLoraAsync(string id)
    {
        lock (loras)
        {
            if (!loras.TryGetValue(id, out var lora)) return Task.FromResult<LoraRecord?>(null);
            DeactivateProfile(lora.ProfileId);
            return Task.FromResult<LoraRecord?>(loras[id] = lora with { Active = true });
        }
    }

    public Task<LoraRecord?> DeleteLoraAsync(string id)
    {
        lock (loras) return Task.FromResult(loras.TryRemove(id, out var lora) ? lora : null);
    }

    public Task<(FeedbackRecord Stored, bool Existing)> InsertFeedbackAsync(FeedbackRecord record)
    {
        var stored = feedback.GetOrAdd(record.Id, record);
        return Task.FromResult((stored, !ReferenceEquals(stored, record)));
    }

    public Task<IReadOnlyList<FeedbackRecord>> FeedbackOfAsync(string profileId) =>
        Task.FromResult<IReadOnlyList<FeedbackRecord>>([.. feedback.Values.Where(f => f.ProfileId == profileId)
            .OrderBy(f => f.Time).ThenBy(f => f.Id, StringComparer.Ordinal)]);

    public Task SaveSchedulerAsync(SchedulerSnapshot snapshot)
    {
        Volatile.Write(ref scheduler, snapshot);
        return Task.CompletedTask;
    }

    public Task<SchedulerSnapshot?> LoadSchedulerAsync() => Task.FromResult(Volatile.Read(ref scheduler));
}
