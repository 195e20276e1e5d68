using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Hosting;

/// <summary>What one silo brings to the cluster.</summary>
public sealed class ClusterSiloOptions
{
    /// <summary>Devices of this machine, each a worker; each name has a keyed <see cref="Workers.IDeviceExecutor"/> service. Empty: a silo that only serves clients.</summary>
    public List<string> Devices { get; } = [];

    /// <summary>The folder every silo mounts: images and LoRAs, content-addressed.</summary>
    public string SharedFolder { get; set; } = "";

    public HostLimits Limits { get; set; } = new();

    /// <summary>How often workers report to the scheduler and the scheduler checks for lost silos.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a scheduler waits, after it was activated or lost a worker, before failing jobs that no
    /// known worker can take: live workers must have re-registered by then. Default five heartbeats; with
    /// real processes a surviving silo learns of a death only after its own probes fail (serve --cluster
    /// adds that time).
    /// </summary>
    public TimeSpan? WorkerReportGraceOverride { get; set; }

    public TimeSpan WorkerReportGrace => WorkerReportGraceOverride ?? HeartbeatInterval * 5;
}
