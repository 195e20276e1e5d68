using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Server.Jobs;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Models;

public enum PackState { Ready, Loading, Missing, Failed }

/// <param name="Problems">Each names a file or the folders searched, or the load error.</param>
/// <param name="Fix">What to do about the problems, in words (the pack's own advice, else doctor).</param>
public sealed record PackAvailability(string Name, PackState State, string Folder, IReadOnlyList<string> Problems, string Fix = "");

/// <summary>
/// The packs this host serves (loaded in the background at start: generator and rewards) and the judges.
/// Jobs ask it for a pack's generator and rewards; capabilities and the health check ask it for the packs' state.
/// </summary>
public sealed class ModelCatalog
{
    sealed class Entry(IModelPack pack)
    {
        public IModelPack Pack { get; } = pack;
        public PackAvailability Availability { get; set; } = new(pack.Name, PackState.Loading, "", []);
        public Task<IImageGenerator?> Loaded { get; set; } = Task.FromResult<IImageGenerator?>(null);
        public IReadOnlyList<IReward> Rewards { get; set; } = [];
    }

    readonly Dictionary<string, Entry> packs = new(StringComparer.Ordinal);
    readonly ILogger logger;
    readonly object gate = new();

    public string DefaultPack { get; }
    public IReadOnlyList<ILabelJudge> Judges { get; }
    public DeviceInfo Device { get; }

    public ModelCatalog(HostModels models, ILogger<ModelCatalog> logger)
    {
        this.logger = logger;
        DefaultPack = models.DefaultPack;
        Judges = models.Judges;
        Device = models.Device;
        foreach (var pack in models.Packs)
            if (!packs.TryAdd(pack.Name, new Entry(pack)))
                throw new ArgumentException($"two packs are named \"{pack.Name}\"");
    }

    /// <summary>Checks every pack and loads the complete ones (generator, then every reward it declares), one after another, off the caller's thread.</summary>
    public void StartLoading(CancellationToken stopping)
    {
        Task previous = Task.CompletedTask;
        foreach (var entry in packs.Values)
        {
            var status = entry.Pack.Check();
            if (!status.Ready)
            {
                Set(entry, new PackAvailability(entry.Pack.Name, PackState.Missing, status.Folder, status.Problems,
                    status.Fix ?? $"run `finerewards doctor` on the host to see where it looked for pack \"{entry.Pack.Name}\""));
                logger.LogWarning("pack {Pack} is not available: {Problems}", entry.Pack.Name, string.Join("; ", status.Problems));
                continue;
            }
            Set(entry, new PackAvailability(entry.Pack.Name, PackState.Loading, status.Folder, []));
            var before = previous;
            entry.Loaded = Task.Run(async () =>
            {
                await before;
                try
                {
                    stopping.ThrowIfCancellationRequested();
                    var generator = entry.Pack.Generator ?? throw new InvalidOperationException($"pack \"{entry.Pack.Name}\" has no image generator");
                    var rewards = entry.Pack.RewardNames().Select(entry.Pack.CreateReward).ToList();
                    lock (gate) entry.Rewards = rewards;
                    Set(entry, entry.Availability with { State = PackState.Ready });
                    logger.LogInformation("pack {Pack} loaded from {Folder} (rewards {Rewards})", entry.Pack.Name, status.Folder, string.Join(", ", rewards.Select(r => r.Name)));
                    return generator;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Set(entry, entry.Availability with { State = PackState.Failed, Problems = [e.Message],
                        Fix = $"see the host log for pack \"{entry.Pack.Name}\"; `finerewards pack verify {status.Folder}` checks its files" });
                    logger.LogError(e, "pack {Pack} failed to load", entry.Pack.Name);
                    return null;
                }
            }, stopping);
            previous = entry.Loaded.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        LoadingDone = previous;
    }

    /// <summary>Completes when every pack <see cref="StartLoading"/> began has loaded or failed.</summary>
    public Task LoadingDone { get; private set; } = Task.CompletedTask;

    void Set(Entry entry, PackAvailability availability)
    {
        lock (gate) entry.Availability = availability;
    }

    public IReadOnlyList<PackAvailability> Packs()
    {
        lock (gate)
        {
            var list = packs.Values.Select(e => e.Availability).ToList();
            if (!packs.ContainsKey(DefaultPack))
                list.Add(new PackAvailability(DefaultPack, PackState.Missing, "", [$"no pack named \"{DefaultPack}\" is configured in this host"],
                    "start the host with that pack (`finerewards serve --pack FOLDER`) or choose another"));
            return list;
        }
    }

    public PackAvailability? Availability(string pack)
    {
        lock (gate) return packs.TryGetValue(pack, out var e) ? e.Availability : null;
    }

    public bool IsReady(string pack) => Availability(pack)?.State == PackState.Ready;

    /// <summary>What the pack accepts (its rewards, default rewards, samplers); nothing for a pack not configured here.</summary>
    public PackCapabilities Capabilities(string pack) =>
        packs.TryGetValue(pack, out var e) ? e.Pack.Capabilities.Resolve(e.Pack.RewardNames()) : new PackCapabilities(Rewards: []).Resolve([]);

    /// <summary>The configured pack (its trainer, probes, default settings, prompt check).</summary>
    /// <exception cref="HostException">No pack of that name.</exception>
    public IModelPack Pack(string pack) =>
        packs.TryGetValue(pack, out var entry) ? entry.Pack
            : throw new HostException(RefusalKind.FailedPrecondition, "pack", $"no pack named \"{pack}\"; packs: {string.Join(", ", packs.Keys)}");

    /// <summary>Every loaded pack's rewards, one per name (the first pack's version where two packs share a name).</summary>
    public IReadOnlyList<IReward> LoadedRewards()
    {
        lock (gate) return packs.Values.SelectMany(e => e.Rewards).DistinctBy(r => r.Name).ToList();
    }

    /// <summary>A loaded pack's reward (the jobs' rewards were checked against the pack at submit).</summary>
    public IReward Reward(string pack, string name)
    {
        lock (gate)
            return packs.TryGetValue(pack, out var e) ? e.Rewards.FirstOrDefault(r => r.Name == name)
                ?? throw new HostException(RefusalKind.FailedPrecondition, "rewards", $"pack \"{pack}\" has no loaded reward \"{name}\"; it has: {string.Join(", ", e.Rewards.Select(r => r.Name))}")
                : throw new HostException(RefusalKind.FailedPrecondition, "pack", $"no pack named \"{pack}\"");
    }

    /// <summary>The pack's generator, waiting while it loads.</summary>
    /// <exception cref="HostException">The pack is missing or failed to load.</exception>
    public async Task<IImageGenerator> GeneratorAsync(string pack, CancellationToken cancellationToken)
    {
        if (!packs.TryGetValue(pack, out var entry))
            throw new HostException(RefusalKind.FailedPrecondition, "pack", $"no pack named \"{pack}\"; packs: {string.Join(", ", packs.Keys)}");
        var generator = await entry.Loaded.WaitAsync(cancellationToken);
        if (generator is null)
        {
            var a = entry.Availability;
            throw new HostException(RefusalKind.FailedPrecondition, "pack", $"pack \"{pack}\" is {a.State.ToString().ToLowerInvariant()}: {string.Join("; ", a.Problems)}");
        }
        return generator;
    }
}
