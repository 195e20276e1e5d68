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
}
