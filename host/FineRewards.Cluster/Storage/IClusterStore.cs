using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;

namespace FineRewards.Cluster.Storage;

/// <summary>A LoRA trained by a worker, in the shared folder under its content hash.</summary>
[GenerateSerializer, Immutable]
public sealed record LoraRecord(
    [property: Id(0)] string Id,
    [property: Id(1)] string Pack,
    [property: Id(2)] string Path,
    [property: Id(3)] string Sha256,
    [property: Id(4)] string TrainedBy,
    [property: Id(5)] DateTimeOffset Created);

/// <summary>
/// The state every silo shares, outside any silo (the host's own tables: jobs, events, LoRA
/// registry, and the scheduler's queue), so that losing a silo loses no acknowledged job or event.
/// Grains write through it before they answer.
/// </summary>
public interface IClusterStore
{
    /// <summary>Stores a new job with its first event; false when the id is taken (nothing written).</summary>
    Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first);

    Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId);

    /// <summary>Appends numbered events of one job together (one transaction).</summary>
    Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events);

    Task RegisterLoraAsync(LoraRecord lora);

    Task<LoraRecord?> FindLoraAsync(string id);

    Task SaveSchedulerAsync(SchedulerSnapshot snapshot);

    Task<SchedulerSnapshot?> LoadSchedulerAsync();
}
