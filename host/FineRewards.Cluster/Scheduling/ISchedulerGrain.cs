using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using Orleans.Concurrency;

namespace FineRewards.Cluster.Scheduling;

/// <summary>
/// The cluster's one queue (key <see cref="SchedulerGrain.Key"/>): fair across clients as the single
/// host's queue, assigning each job to a free worker that can load its pack (preferring one that has
/// it loaded), never two jobs to one worker, and re-queueing the job of a worker whose silo died.
/// </summary>
public interface ISchedulerGrain : IGrainWithStringKey
{
    /// <summary>Stores and queues a job (after the seed policy: <paramref name="seedPolicy"/>, <paramref name="k"/> candidates).</summary>
    Task<SubmitOutcome> Submit(JobRecord record, SeedPolicy seedPolicy, int k);

    Task<CancelOutcome> Cancel(string jobId);

    // One-way: a worker never waits on the scheduler, which may be waiting on that worker (Assign).
    /// <summary>A worker is alive, and this is what it has loaded.</summary>
    [OneWay]
    Task Heartbeat(WorkerStatus status);

    /// <summary>
    /// As <see cref="Heartbeat"/>, answered: each silo sends its workers' status this way every heartbeat
    /// interval (not from a grain, so nothing waits in a circle). A one-way heartbeat sent to a scheduler
    /// activation that is gone is lost; a call is re-addressed to the new one.
    /// </summary>
    Task Report(WorkerStatus status);

    /// <summary>A worker finished its job and is free.</summary>
    [OneWay]
    Task WorkerFree(WorkerStatus status);

    Task<ClusterStatus> Status();
}
