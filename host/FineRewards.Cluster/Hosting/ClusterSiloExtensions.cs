using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace FineRewards.Cluster.Hosting;

public static class ClusterSiloExtensions
{
    /// <summary>
    /// Makes the silo a FineRewards cluster member: device placement for workers, and a worker per
    /// configured device started with the silo. The caller registers the <see cref="Storage.IClusterStore"/>
    /// (shared by every silo) and one keyed <see cref="IDeviceExecutor"/> per device.
    /// </summary>
    public static ISiloBuilder AddFineRewardsCluster(this ISiloBuilder silo, Action<ClusterSiloOptions> configure)
    {
        silo.Services.Configure(configure);
        silo.Services.AddPlacementDirector<DeviceSiloPlacement, DeviceSiloPlacementDirector>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, WorkerStarter>();
        return silo;
    }
}

/// <summary>
/// Starts this silo's workers once the silo is active, so they register with the scheduler; then
/// reports their status to the scheduler every heartbeat interval (a call, which finds a scheduler
/// activated again elsewhere; the workers' own one-way heartbeats may not). A scheduler whose silo died is activated again by
/// the next call, and its timer is what notices lost workers; with no worker left to send heartbeats,
/// these calls are what bring it back.
/// </summary>
sealed class WorkerStarter(IGrainFactory grains, ILocalSiloDetails local, IOptions<ClusterSiloOptions> options,
    ILogger<WorkerStarter> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    readonly CancellationTokenSource stopping = new();
    Task keeper = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(WorkerStarter), ServiceLifecycleStage.Active, async _ =>
        {
            foreach (string device in options.Value.Devices)
                await grains.GetGrain<IWorkerGrain>(new WorkerKey(local.SiloAddress, device).ToString()).Start();
            keeper = Task.Run(KeepSchedulerAsync);
        }, async _ =>
        {
            stopping.Cancel();
            await keeper;
        });

    async Task KeepSchedulerAsync()
    {
        var scheduler = grains.GetGrain<ISchedulerGrain>(SchedulerGrain.Key);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.HeartbeatInterval, stopping.Token);
                if (options.Value.Devices.Count == 0) await scheduler.Status().WaitAsync(options.Value.WorkerReportGrace, stopping.Token);
                foreach (string device in options.Value.Devices)
                {
                    var status = await grains.GetGrain<IWorkerGrain>(new WorkerKey(local.SiloAddress, device).ToString()).Status();
                    // A call stuck on a silo that just died must not stop the reports of the live ones.
                    await scheduler.Report(status).WaitAsync(options.Value.WorkerReportGrace, stopping.Token);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested) { return; }
            catch (Exception e) { logger.LogDebug("scheduler not reachable yet: {Message}", e.Message); }
        }
    }
}
