using FineRewards.Cluster.Jobs;

namespace FineRewards.Cluster.Workers;

/// <summary>A job handed to a worker. <see cref="Attempt"/> grows each time the job is re-queued after a lost worker.</summary>
[GenerateSerializer, Immutable]
public sealed record Assignment(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Attempt,
    [property: Id(2)] WorkKind Kind,
    [property: Id(3)] string SpecJson,
    [property: Id(4)] long BaseSeed);

/// <summary>A worker as the scheduler and <c>GetCapabilities</c> see it.</summary>
/// <param name="Assigned">Jobs handed to it so far: the scheduler ignores a status older than its last assignment.</param>
/// <param name="BusySeconds">Time spent running jobs since the worker started; with <paramref name="UpSeconds"/>, its utilisation.</param>
/// <param name="Version">Grows with every status the worker sends: one-way messages may arrive out of order, and an older status is ignored.</param>
[GenerateSerializer, Immutable]
public sealed record WorkerStatus(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] IReadOnlyList<string> Packs,
    [property: Id(2)] string? LoadedPack,
    [property: Id(3)] string LoadedLoraKey,
    [property: Id(4)] string? BusyJob,
    [property: Id(5)] long Assigned,
    [property: Id(6)] long Finished,
    [property: Id(7)] double BusySeconds,
    [property: Id(8)] double UpSeconds,
    [property: Id(9)] long Version);

/// <summary>
/// One device (a GPU, or a CPU on a machine without one), on the silo that owns it
/// (<see cref="DeviceSiloPlacement"/>): runs one job at a time and reports to the scheduler.
/// Key: <see cref="WorkerKey"/>.
/// </summary>
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Starts the worker (its silo calls it at start-up) and registers it with the scheduler.</summary>
    Task<WorkerStatus> Start();

    /// <summary>Runs the job in the background; false when the worker is busy (one job per device, always).</summary>
    Task<bool> Assign(Assignment assignment);

    /// <summary>Cancels the job if this worker runs it; the job's cancelled event follows from the run.</summary>
    Task<bool> Cancel(string jobId);

    Task<WorkerStatus> Status();

    /// <summary>Skips a candidate of the generation job this worker runs (its device reports the skipped event); refused when it runs another.</summary>
    Task<SkipAnswer> Skip(string jobId, int candidateIndex);

    /// <summary>The worker's own run reports its end (called from the run, not by others).</summary>
    Task RunEnded(string jobId, string loadedPack, string loadedLoraKey);
}
