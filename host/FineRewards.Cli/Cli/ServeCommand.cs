using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Cluster.Hosting;
using FineRewards.Cli.Packs;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Runtime;
using FineRewards.Cli.Doctor;
using FineRewards.Server;
using FineRewards.Server.Hosting;
using FineRewards.Server.Models;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards serve`: the headless gRPC host editors talk to. It serves the built-in shapes pack and every
/// `--pack FOLDER` beside it, all from the one pack registry; a pack with missing files is reported in
/// GetCapabilities with the paths looked at and a fix, never replaced by a stand-in. Runs until Ctrl+C.
/// </summary>
public static class ServeCommand
{
    public static Command Create(PackRegistry registry)
    {
        var address = new Option<string>("--address") { Description = "IP address to bind; anything but loopback needs a token.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one).", DefaultValueFactory = _ => HostOptions.DefaultPort };
        var data = new Option<string>("--data") { Description = "Data directory (SQLite, images, logs); a relative path is taken from the working directory.", DefaultValueFactory = _ => DefaultDataDirectory() };
        var token = new Option<string?>("--token") { Description = $"Require \"authorization: Bearer TOKEN\" on every call (or set ${HostOptions.TokenEnvironmentVariable})." };
        var reflection = new Option<bool>("--reflection") { Description = "Serve gRPC reflection (for grpcurl and similar tools)." };
        var workers = new Option<int>("--workers") { Description = "Jobs run at once (1 per GPU).", DefaultValueFactory = _ => 1 };
        var packs = new Option<string[]>("--pack")
        {
            Description = "Also serve this pack: a folder with pack.json (e.g. made by `pack create sd`); repeat for several. The built-in shapes pack is always served.",
            AllowMultipleArgumentsPerToken = false,
        };
        var cluster = new Option<string?>("--cluster") { Description = "Join the cluster this JSON file describes (docs/cluster.md): jobs run on the cluster's workers, this silo's devices among them." };
        var dashboard = new Option<bool>("--dashboard") { Description = "With --cluster: serve the Orleans dashboard on the config's dashboard_port (loopback only)." };
        var command = new Command("serve", "Run the gRPC host: generation jobs, training, images, feedback, for the shapes pack and every --pack. Binds to 127.0.0.1 unless told otherwise.")
        {
            address, port, data, token, reflection, workers, packs, cluster, dashboard,
        };
        command.SetAction((parse, ct) => Task.FromResult(CliErrors.Guard(() =>
        {
            var options = new HostOptions(
                parse.GetValue(data)!,
                parse.GetValue(address)!,
                parse.GetValue(port),
                parse.GetValue(token) ?? Environment.GetEnvironmentVariable(HostOptions.TokenEnvironmentVariable),
                parse.GetValue(reflection),
                parse.GetValue(workers));
            if (parse.GetValue(dashboard) && parse.GetValue(cluster) is null) throw new InputException("--dashboard", "shows a cluster; use it with --cluster CONFIG");
            return Run(options, registry, parse.GetValue(packs) ?? [], parse.GetValue(cluster), parse.GetValue(dashboard), ct).GetAwaiter().GetResult();
        })));
        return command;
    }

    static string DefaultDataDirectory() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "finerewards", "host");

    static async Task<int> Run(HostOptions options, PackRegistry registry, IReadOnlyList<string> extra, string? clusterFile, bool dashboard,
        CancellationToken cancellationToken)
    {
        options.BindAddress(); // refuse a bad address before anything starts
        var packs = Packs(registry, extra);
        try
        {
            var cluster = clusterFile is null ? null : ClusterConfig.Load(clusterFile, [.. packs.Select(p => p.Name)]);
            await using var host = cluster is null
                ? await FineRewardsHost.StartAsync(options, Models(packs, Device()), cancellationToken)
                : await FineRewardsHost.StartAsync(options, Models(packs, Device()), cancellationToken,
                    builder => builder.AddClusterSilo(cluster, options, dashboard), app => { if (dashboard) app.MapClusterDashboard(cluster); });
            Console.WriteLine($"listening on {host.Address} (packs: {string.Join(", ", packs.Select(p => p.Name))})" + (cluster is null ? "" :
                $"; silo of cluster {cluster.ClusterId} on port {cluster.SiloPort} (gateway {cluster.GatewayPort}), devices: " +
                (cluster.DeviceList.Count == 0 ? "none (serves the API only)" : string.Join(", ", cluster.DeviceList.Select(d => $"{d.Name} [{string.Join(", ", d.Packs)}]"))) +
                (dashboard ? $"; dashboard on http://127.0.0.1:{cluster.DashboardPort}/" : "")));
            // Ctrl+C or SIGTERM may reach the host's own console lifetime (which stops the app) rather than
            // the command's token: wait for either, or the process hangs after "Application is shutting down".
            await Task.WhenAny(Task.Delay(Timeout.Infinite, cancellationToken), host.WaitForShutdownAsync());
            return CliErrors.Ok;
        }
        finally
        {
            foreach (var pack in packs) pack.Dispose();
        }
    }

    /// <summary>
    /// The built-in pack, then each --pack folder (opened, not loaded: the host checks and loads them in the background).
    /// A folder that is no pack, or a second pack of one name, is refused before the host starts.
    /// </summary>
    public static IReadOnlyList<IModelPack> Packs(PackRegistry registry, IReadOnlyList<string> folders)
    {
        var packs = new List<IModelPack> { registry.Resolve(Diagnostics.DefaultPack) };
        try
        {
            foreach (string folder in folders)
            {
                if (!File.Exists(Path.Combine(folder, PackManifest.FileName)))
                    throw new InputException("--pack", $"{Path.GetFullPath(folder)} holds no {PackManifest.FileName}; give a pack folder (`finerewards pack create sd ... --out FOLDER` makes one)");
                var pack = registry.Resolve(folder);
                if (packs.Any(p => p.Name == pack.Name))
                {
                    pack.Dispose();
                    throw new InputException("--pack", $"{Path.GetFullPath(folder)}: a pack named \"{pack.Name}\" is already served; rename it in its {PackManifest.FileName}");
                }
                packs.Add(pack);
            }
            return packs;
        }
        catch
        {
            foreach (var pack in packs) pack.Dispose();
            throw;
        }
    }

    /// <summary>The device the host reports: CUDA when libtorch sees it, else the CPU.</summary>
    internal static DeviceInfo Device() =>
        TorchProbe.Probe().CudaAvailable ? new DeviceInfo(DeviceKind.Gpu, "CUDA (libtorch)", 0) : DeviceInfo.Cpu();

    /// <summary>What `serve` gives the host: the packs, the lexical judge, the device. `bench host` starts its host from the same.</summary>
    public static HostModels Models(IReadOnlyList<IModelPack> packs, DeviceInfo device) =>
        new(packs, BuiltInPacks.Judges(), device, Diagnostics.DefaultPack);
}
