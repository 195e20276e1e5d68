using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Work;

namespace FineRewards.Cluster.Serving;

/// <summary>Every worker that has reported to the cluster's scheduler, for GetCapabilities and the logs.</summary>
public sealed class ClusterWorkers(ClusterHost cluster) : IHostWorkers
{
    public async Task<IReadOnlyList<WorkerState>> WorkersAsync(CancellationToken cancellationToken)
    {
        var status = await cluster.StatusAsync();
        return [.. status.Workers.Select(w => new WorkerState(w.WorkerId, w.Packs, w.LoadedPack,
            w.LoadedLoraKey.Length == 0 ? [] : [.. w.LoadedLoraKey.Split(',').Select(LoraKeys.IdOf)],
            w.BusyJob, status.QueuedFor(w), w.UpSeconds <= 0 ? 0 : Math.Min(1, w.BusySeconds / w.UpSeconds), w.Finished))];
    }
}
