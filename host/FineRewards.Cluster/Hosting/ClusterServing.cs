using System.Net;
using FineRewards.Cluster.Serving;
using FineRewards.Cluster.Workers;
using FineRewards.Server;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using FineRewards.Server.Work;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace FineRewards.Cluster.Hosting;

/// <summary>
/// `serve --cluster`: the host's own web application becomes a silo. Its gRPC services call the
/// cluster instead of this machine's queue, images live in the shared folder, and each configured
/// device is a worker running the host's <see cref="JobRunner"/> (<see cref="RunnerDevice"/>).
/// </summary>
public static class ClusterServing
{
    /// <summary>Adds the silo and the cluster's services to the host being built (<c>FineRewardsHost.StartAsync</c>'s configure hook).</summary>
    public static void AddClusterSilo(this WebApplicationBuilder builder, ClusterConfig config, FineRewards.Server.HostOptions host, bool dashboard)
    {
        ((IHostApplicationBuilder)builder).UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = config.ClusterId;
                o.ServiceId = config.ServiceId;
            });
            if (config.Clustering.Kind == ClusterConfig.LocalhostClustering)
            {
                silo.UseLocalhostClustering(config.SiloPort, config.GatewayPort,
                    new IPEndPoint(IPAddress.Loopback, config.Clustering.PrimarySiloPort ?? config.SiloPort), config.ServiceId, config.ClusterId);
                ClusterStores.UseStore(silo, config.Database);
            }
            else
            {
                silo.ConfigureEndpoints(IPAddress.Parse(config.AdvertisedAddress), config.SiloPort, config.GatewayPort, listenOnAnyHostAddress: true);
                ClusterStores.UseClustering(silo, config.Database);
            }
            silo.Configure<ClusterMembershipOptions>(m =>
            {
                m.ProbeTimeout = TimeSpan.FromMilliseconds(config.ProbeTimeoutMs);
                m.NumMissedProbesLimit = config.MissedProbesLimit;
            });
            silo.AddFineRewardsCluster(o =>
            {
                o.SharedFolder = config.SharedFolder;
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(config.HeartbeatMs);
                // A survivor notices a dead silo by its own missed probes; until then its workers' reports may go astray.
                o.WorkerReportGraceOverride = TimeSpan.FromMilliseconds(2.0 * config.ProbeTimeoutMs * config.MissedProbesLimit + 5 * config.HeartbeatMs);
                o.Limits = host.Limits;
                o.Devices.AddRange(config.DeviceList.Select(d => d.Name));
            });
            foreach (var device in config.DeviceList)
                silo.Services.AddKeyedSingleton<IDeviceExecutor>(device.Name, (services, _) => new RunnerDevice(services.GetRequiredService<JobRunner>(), services.GetRequiredService<TrainingRunner>(), device.Packs));
            if (dashboard) silo.AddDashboard();
        });

        // Registered after the host's own: these win.
        builder.Services.AddSingleton(_ => new ImageStore(Path.Combine(config.SharedFolder, "images")));
        builder.Services.AddSingleton(services => new ClusterHost(services.GetRequiredService<IGrainFactory>()));
        builder.Services.AddSingleton<IGenerationJobs, ClusterGenerationJobs>();
        builder.Services.AddSingleton<ITrainingJobs, ClusterTrainingJobs>();
        builder.Services.AddSingleton<IHostWorkers, ClusterWorkers>();
        builder.Services.AddSingleton<IHostFeedback, ClusterFeedback>();
        // Browsers speak HTTP/1.1 and the host's port is HTTP/2 only: the dashboard has its own port, on loopback (it has no authentication).
        if (dashboard)
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, config.DashboardPort, l => l.Protocols = HttpProtocols.Http1));
    }

    /// <summary>Maps the Orleans dashboard on its own port (after the application is built).</summary>
    public static void MapClusterDashboard(this WebApplication app, ClusterConfig config) =>
        app.MapOrleansDashboard().RequireHost($"*:{config.DashboardPort}");
}
