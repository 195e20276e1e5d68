using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Storage;

/// <summary>A LoRA trained by a worker, in the shared folder under its content hash, with its evidence.</summary>
/// <param name="Id">The training job's id: what <c>LoraWeight.name</c>, <c>ActivateLora</c> and <c>DeleteLora</c> name.</param>
/// <param name="TrainedBy">The worker that trained it.</param>
/// <param name="ProfileId">The profile whose feedback it learned.</param>
/// <param name="Active">Its profile's active LoRA (at most one per profile).</param>
/// <param name="Metrics">The run's numbers (rounds, pairs, steps, final loss, reward means), as on one host.</param>
/// <param name="Evaluation">The check against the base model.</param>
public sealed record LoraRecord(string Id, string Pack, string Path, string Sha256, string TrainedBy, DateTimeOffset Created,
    string ProfileId = "", bool Active = false, IReadOnlyDictionary<string, double>? Metrics = null, LoraEvaluation? Evaluation = null);

/// <summary>
/// The state every silo shares, outside any silo (the host's own tables: jobs, events, LoRA
/// registry, feedback, and the scheduler's queue), so that losing a silo loses no acknowledged job or event.
/// Grains write through it before they answer.
/// </summary>
public interface IClusterStore
{
    /// <summary>Stores a new job with its first event; false when the id is taken (nothing written).</summary>
    Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first);

    Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId);

    /// <summary>Appends numbered events of one job together (one transaction).</summary>
    Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events);

    /// <summary>Registers a LoRA (again: replaced); an active one becomes its profile's only active one, together.</summary>
    Task RegisterLoraAsync(LoraRecord lora);

    Task<LoraRecord?> FindLoraAsync(string id);

    Task SaveSchedulerAsync(SchedulerSnapshot snapshot);

    Task<SchedulerSnapshot?> LoadSchedulerAsync();

    /// <summary>A profile's LoRAs (every LoRA when null), newest first.</summary>
    Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string? profileId);

    /// <summary>Makes the LoRA its profile's only active one; null when the registry has no such LoRA.</summary>
    Task<LoraRecord?> ActivateLoraAsync(string id);

    /// <summary>Removes the LoRA from the registry; returns it as it was, or null when there was none.</summary>
    Task<LoraRecord?> DeleteLoraAsync(string id);

    /// <summary>Stores feedback unless its id is known; returns what is stored under the id and whether it was there already.</summary>
    Task<(FeedbackRecord Stored, bool Existing)> InsertFeedbackAsync(FeedbackRecord feedback);

    /// <summary>A profile's feedback, oldest first.</summary>
    Task<IReadOnlyList<FeedbackRecord>> FeedbackOfAsync(string profileId);
}
