using FineRewards.Core.Contracts;
using FineRewards.Server.Jobs;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Models;

public enum PackState { Ready, Loading, Missing, Failed }

/// <param name="Problems">Each names a file or the folders searched, or the load error.</param>
public sealed record PackAvailability(string Name, PackState State, string Folder, IReadOnlyList<string> Problems);

/// <summary>
/// The models this host serves: packs (loaded in the background at start), rewards and judges.
/// Jobs ask it for a generator; capabilities and the health check ask it for the packs' state.
/// </summary>
public sealed class ModelCatalog
{
    sealed class Entry(IModelPack pack)
    {
        public IModelPack Pack { get; } = pack;
        public PackAvailability Availability { get; set; } = new(pack.Name, PackState.Loading, "", []);
        public Task<IImageGenerator?> Loaded { get; set; } = Task.FromResult<IImageGenerator?>(null);
    }

    readonly Dictionary<string, Entry> packs = new(StringComparer.Ordinal);
    readonly ILogger logger;
    readonly object gate = new();

    public string DefaultPack { get; }
    public IReadOnlyList<IReward> Rewards { get; }
    public IReadOnlyList<ILabelJudge> Judges { get; }
    public DeviceInfo Device { get; }

    public ModelCatalog(HostModels models, ILogger<ModelCatalog> logger)
    {
        this.logger = logger;
        DefaultPack = models.DefaultPack;
        Rewards = models.Rewards;
        Judges = models.Judges;
        Device = models.Device;
        foreach (var pack in models.Packs)
            if (!packs.TryAdd(pack.Name, new Entry(pack)))
                throw new ArgumentException($"two packs are named \"{pack.Name}\"");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var reward in Rewards)
            if (!names.Add(reward.Name)) throw new ArgumentException($"two rewards are named \"{reward.Name}\"");
    }

    /// <summary>Checks every pack and loads the complete ones, one after another, off the caller's thread.</summary>
    public void StartLoading(CancellationToken stopping)
    {
        Task previous = Task.CompletedTask;
        foreach (var entry in packs.Values)
        {
            var status = entry.Pack.Check();
            if (!status.Ready)
            {
                Set(entry, new PackAvailability(entry.Pack.Name, PackState.Missing, status.Folder, status.Problems));
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
                    var generator = entry.Pack.Load(stopping);
                    Set(entry, entry.Availability with { State = PackState.Ready });
                    logger.LogInformation("pack {Pack} loaded from {Folder}", entry.Pack.Name, status.Folder);
                    return generator;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Set(entry, entry.Availability with { State = PackState.Failed, Problems = [e.Message] });
                    logger.LogError(e, "pack {Pack} failed to load", entry.Pack.Name);
                    return null;
                }
            }, stopping);
            previous = entry.Loaded.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

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
                list.Add(new PackAvailability(DefaultPack, PackState.Missing, "", [$"no pack named \"{DefaultPack}\" is configured in this host"]));
            return list;
        }
    }

    public PackAvailability? Availability(string pack)
    {
        lock (gate) return packs.TryGetValue(pack, out var e) ? e.Availability : null;
    }

    public bool IsReady(string pack) => Availability(pack)?.State == PackState.Ready;

    /// <summary>What the pack accepts, resolved against the host's rewards; a pack not configured here accepts nothing beyond the host's rewards.</summary>
    public PackCapabilities Capabilities(string pack) =>
        (packs.TryGetValue(pack, out var e) ? e.Pack.Capabilities : PackCapabilities.Unrestricted).Resolve(Rewards.Select(r => r.Name).ToList());

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
