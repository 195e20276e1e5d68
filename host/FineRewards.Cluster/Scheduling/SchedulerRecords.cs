using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Workers;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Scheduling;

/// <summary>A job waiting for a worker (or running on one), with what the scheduler needs to place and hand it over.</summary>
[GenerateSerializer, Immutable]
public sealed record QueuedJob(
    [property: Id(0)] string JobId,
    [property: Id(1)] string ClientId,
    [property: Id(2)] WorkKind Kind,
    [property: Id(3)] string Pack,
    [property: Id(4)] string LoraKey,
    [property: Id(5)] string SpecJson,
    [property: Id(6)] long BaseSeed,
    [property: Id(7)] int Attempt)
{
    public Assignment ToAssignment() => new(JobId, Attempt, Kind, SpecJson, BaseSeed);
}

[GenerateSerializer, Immutable]
public sealed record RunningJob([property: Id(0)] QueuedJob Job, [property: Id(1)] string WorkerId);

/// <summary>The scheduler's state in the store: a scheduler activated on another silo after its own died continues from it.</summary>
/// <param name="Queued">Waiting jobs in the order they would be served; re-queued jobs first.</param>
[GenerateSerializer, Immutable]
public sealed record SchedulerSnapshot(
    [property: Id(0)] IReadOnlyList<QueuedJob> Queued,
    [property: Id(1)] IReadOnlyList<RunningJob> Running,
    [property: Id(2)] IReadOnlyDictionary<string, long> NextSeedByClient);

/// <summary>What a submit did: queued (<see cref="Position"/>), an existing job (a retry), or refused.</summary>
[GenerateSerializer, Immutable]
public sealed record SubmitOutcome(
    [property: Id(0)] bool Existing,
    [property: Id(1)] int Position,
    [property: Id(2)] RefusalKind? Refusal,
    [property: Id(3)] string Field,
    [property: Id(4)] string Message,
    [property: Id(5)] long BaseSeed);

/// <summary>Workers with their queue and utilisation, and the cluster's queue: GetCapabilities and the logs show it.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterStatus(
    [property: Id(0)] IReadOnlyList<WorkerStatus> Workers,
    [property: Id(1)] int Queued,
    [property: Id(2)] int Running,
    [property: Id(3)] IReadOnlyDictionary<string, int> QueuedByPack)
{
    /// <summary>Waiting jobs the worker could take: those of a pack it can load.</summary>
    public int QueuedFor(WorkerStatus worker) => worker.Packs.Sum(p => QueuedByPack.GetValueOrDefault(p));
}
