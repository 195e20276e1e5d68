using System.CommandLine;
using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Host.Packs;
using FineRewards.Shapes.Judges;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Runtime;
using FineRewards.Diffusion.Schedulers;
using FineRewards.ShapesPack;
using FineRewards.Host.Doctor;
using FineRewards.Server;
using FineRewards.Server.Hosting;
using FineRewards.Server.Models;

namespace FineRewards.Host.Cli;

/// <summary>
/// `finerewards serve`: the headless gRPC host editors talk to. The packs come from the pack
/// folders (PackLocator); a pack whose engine this build lacks is reported as missing in
/// GetCapabilities, never replaced by a stand-in. Runs until Ctrl+C.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Description = "IP address to bind; anything but loopback needs a token.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one).", DefaultValueFactory = _ => HostOptions.DefaultPort };
        var data = new Option<string>("--data") { Description = "Data directory (SQLite, images, logs).", DefaultValueFactory = _ => DefaultDataDirectory() };
        var token = new Option<string?>("--token") { Description = $"Require \"authorization: Bearer TOKEN\" on every call (or set ${HostOptions.TokenEnvironmentVariable})." };
        var reflection = new Option<bool>("--reflection") { Description = "Serve gRPC reflection (for grpcurl and similar tools)." };
        var workers = new Option<int>("--workers") { Description = "Jobs run at once (1 per GPU).", DefaultValueFactory = _ => 1 };
        var command = new Command("serve", "Run the gRPC host: generation jobs, images, feedback. Binds to 127.0.0.1 unless told otherwise.")
        {
            address, port, data, token, reflection, workers,
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
            return Run(options, ct).GetAwaiter().GetResult();
        })));
        return command;
    }

    static string DefaultDataDirectory() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "finerewards", "host");

    static async Task<int> Run(HostOptions options, CancellationToken cancellationToken)
    {
        options.BindAddress(); // refuse a bad address before anything starts
        var device = Device();
        // The built-in Shapes pack is the one engine this build serves; when its files are missing the
        // host still starts and reports which (GetCapabilities, health), never a stand-in model.
        var locator = PackLocator.Default();
        var found = locator.Find(Diagnostics.DefaultPack);
        using var shapes = found.Ready ? new ShapesPackRuntime(found.Folder) : null;
        var models = Models(locator, shapes, device);
        await using var host = await FineRewardsHost.StartAsync(options, models, cancellationToken);
        Console.WriteLine($"listening on {host.Address}");
        // Ctrl+C or SIGTERM may reach the host's own console lifetime (which stops the app) rather than
        // the command's token: wait for either, or the process hangs after "Application is shutting down".
        await Task.WhenAny(Task.Delay(Timeout.Infinite, cancellationToken), host.WaitForShutdownAsync());
        return CliErrors.Ok;
    }

    /// <summary>The device the host reports: CUDA when libtorch sees it, else the CPU.</summary>
    internal static DeviceInfo Device() =>
        TorchProbe.Probe().CudaAvailable ? new DeviceInfo(DeviceKind.Gpu, "CUDA (libtorch)", 0) : DeviceInfo.Cpu();

    /// <summary>
    /// What `serve` gives the host: the built-in Shapes pack's generator, rewards, lexical judge,
    /// LoRA trainer and probe prompts (for the check of a new LoRA), or, when the pack is missing (<paramref name="shapes"/> null), the pack alone so
    /// GetCapabilities reports its missing files. `bench host` starts its host from the same models.
    /// </summary>
    /// <param name="wrapGenerator">Wraps the pack's generator (the bench times it); identity by default.</param>
    /// <param name="wrapReward">Wraps each reward (the bench times them); identity by default.</param>
    public static HostModels Models(PackLocator locator, ShapesPackRuntime? shapes, DeviceInfo device,
        Func<IImageGenerator, IImageGenerator>? wrapGenerator = null, Func<IReward, IReward>? wrapReward = null)
    {
        if (shapes is null) return new HostModels([new LocatedPack(locator, Diagnostics.DefaultPack, engine: null)], [], [], device, Diagnostics.DefaultPack);
        wrapGenerator ??= g => g;
        wrapReward ??= r => r;
        var capabilities = new PackCapabilities(shapes.RewardNames, ShapesPackInfo.DefaultRewards, SchedulerFactory.Names,
            shapes.ValidatePrompt, ShapesPackInfo.ExamplePrompt);
        return new HostModels(
            [new LocatedPack(locator, Diagnostics.DefaultPack, engine: _ => wrapGenerator(shapes.Generator!), capabilities)],
            shapes.RewardNames.Select(name => wrapReward(shapes.CreateReward(name))).ToList(),
            [new LexicalLabelJudge()],
            device,
            Diagnostics.DefaultPack,
            new Dictionary<string, ILoraTrainer> { [Diagnostics.DefaultPack] = new DeferredTrainer(() => shapes.Trainer!) },
            new Dictionary<string, int> { [Diagnostics.DefaultPack] = FineRewards.Shapes.World.Scene.Canvas },
            new Dictionary<string, IReadOnlyList<string>> { [Diagnostics.DefaultPack] = ShapesPackRuntime.ProbePrompts() });
    }

    /// <summary>Loads the diffusion model for training only when the first training job runs, not at start-up.</summary>
    sealed class DeferredTrainer(Func<ILoraTrainer> create) : ILoraTrainer
    {
        readonly Lazy<ILoraTrainer> trainer = new(create);
        public string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath,
            IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
            trainer.Value.Train(pairs, options, outputPath, progress, cancellationToken);
    }
}
