using FineRewards.Contracts;
using FineRewards.Core.Training;

namespace FineRewards.Core.Packs;

/// <summary>
/// A model pack: the one seam where a model family (the built-in Shapes pack, a user's Stable Diffusion
/// checkpoint with its reward models) plugs into every command and the host. <see cref="Check"/> looks at
/// files only, so a missing part is reported (with the path looked at) before anything loads; the models
/// load on first use of <see cref="Generator"/>, <see cref="Trainer"/> or <see cref="CreateReward"/>.
/// Members are null when the pack lacks them; <see cref="ModelPackChecks"/> turns that into an error that
/// names the pack and the missing part.
/// </summary>
public interface IModelPack : IDisposable
{
    string Name { get; }
    /// <summary>Where the pack is and which of its files are missing or damaged; cheap, loads nothing.</summary>
    PackStatus Check();
    /// <summary>Its rewards, default rewards, samplers and an example prompt; <see cref="PackCapabilities.Rewards"/> is never null.</summary>
    PackCapabilities Capabilities { get; }
    GenerationSettings DefaultGeneration { get; }
    /// <summary>Prompts a new LoRA is also checked on when a profile has few prompts of its own; may be empty.</summary>
    IReadOnlyList<string> ProbePrompts { get; }
    IImageGenerator? Generator { get; }
    ILoraTrainer? Trainer { get; }
    /// <summary>Where the pack's world can be checked (Shapes); null for real models.</summary>
    IGroundTruth? GroundTruth { get; }
    /// <summary>One of <see cref="PackCapabilities.Rewards"/>; the same name gives the same reward object.</summary>
    /// <exception cref="InputException">The pack has no reward of that name.</exception>
    IReward CreateReward(string name);
    /// <summary>
    /// The named rewards built for one caller with <paramref name="options"/> (`score`'s judge, embedder, seed, coverage),
    /// owned by the caller; a pack without such options hands out its shared rewards and refuses other options.
    /// </summary>
    /// <exception cref="InputException">An unknown or repeated reward name, or an option the pack does not take.</exception>
    RewardSet OpenRewards(IReadOnlyList<string> names, RewardOptions options)
    {
        if (options != RewardOptions.PackDefault)
            throw new InputException("--judge", $"pack \"{Name}\" builds its rewards one way only; leave out --judge, --embedder, --seed, --coverage and --count-aware");
        return new RewardSet(this.CreateRewards(names).Select(r => (r.Name, r)).ToList(), options, "pack");
    }
    /// <summary>Checks one prompt the pack's way (Shapes: its grammar); throws <see cref="InputException"/> naming <paramref name="field"/>.</summary>
    void ValidatePrompt(string prompt, string field);
}

public static class ModelPackChecks
{
    public static IReadOnlyList<string> RewardNames(this IModelPack pack) => pack.Capabilities.Rewards ?? [];

    public static IImageGenerator RequireGenerator(this IModelPack pack) =>
        pack.Generator ?? throw new InputException("--pack", $"pack \"{pack.Name}\" has no image generator in this build (the diffusion engine for it is not registered)");

    public static ILoraTrainer RequireTrainer(this IModelPack pack) =>
        pack.Trainer ?? throw new InputException("--pack", $"pack \"{pack.Name}\" has no LoRA trainer in this build, so it cannot run training rounds");

    public static IGroundTruth RequireGroundTruth(this IModelPack pack) =>
        pack.GroundTruth ?? throw new InputException("--pack", $"pack \"{pack.Name}\" has no ground-truth evaluator; accuracy needs a pack whose world can be checked (shapes)");

    /// <summary>Refuses a pack whose files are missing, naming each problem (with the path looked at) and the pack's fix.</summary>
    public static PackStatus RequireReady(this IModelPack pack, string field = "--pack")
    {
        var status = pack.Check();
        if (!status.Ready)
            throw new InputException(field, $"pack \"{pack.Name}\"{(status.Folder.Length > 0 ? $" ({status.Folder})" : "")} is not usable: " +
                                            $"{string.Join("; ", status.Problems)}{(string.IsNullOrEmpty(status.Fix) ? "" : "; " + status.Fix)}");
        return status;
    }

    /// <summary>A comma-separated reward list as given on a command line (names trimmed and lower-cased); checked against a pack by <see cref="CheckRewardNames"/>.</summary>
    public static IReadOnlyList<string> ParseRewardNames(string text, string field = "--rewards")
    {
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
        return names.Count > 0 ? names : throw new InputException(field, "is empty; expected a comma-separated list of reward names");
    }

    /// <summary>Checks reward names against the pack: unknown and repeated names are refused, naming the pack and what it has.</summary>
    public static IReadOnlyList<string> CheckRewardNames(this IModelPack pack, IReadOnlyList<string> names, string field = "--rewards")
    {
        var known = pack.RewardNames();
        if (names.Count == 0) throw new InputException(field, $"no rewards; pack \"{pack.Name}\" has: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            if (!seen.Add(name)) throw new InputException(field, $"reward \"{name}\" is named twice");
            if (!known.Contains(name))
                throw new InputException(field, $"pack \"{pack.Name}\" has no reward \"{name}\"; it has: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
        }
        return names;
    }

    /// <summary>Creates each named reward, refusing unknown and repeated names.</summary>
    public static IReadOnlyList<IReward> CreateRewards(this IModelPack pack, IReadOnlyList<string> names, string field = "--rewards") =>
        pack.CheckRewardNames(names, field).Select(name =>
        {
            var reward = pack.CreateReward(name);
            return reward.Name == name ? reward : throw new InvalidOperationException($"pack \"{pack.Name}\" made reward \"{reward.Name}\" when asked for \"{name}\"");
        }).ToList();
}

/// <summary>
/// Where every command and the host get packs: built-in packs by name, and pack folders (a pack.json)
/// opened by the first registered family that claims them. The executable registers the families it
/// was built with; a name or folder nothing claims fails with an error that says what is registered.
/// </summary>
public sealed class PackRegistry
{
    readonly Dictionary<string, Func<IModelPack>> named = new(StringComparer.Ordinal);
    readonly List<(string Family, Func<string, PackManifest, IModelPack?> Open)> families = [];

    /// <summary>The built-in packs' names.</summary>
    public IReadOnlyList<string> Packs => named.Keys.Order(StringComparer.Ordinal).ToList();

    public PackRegistry Register(string pack, Func<IModelPack> factory)
    {
        if (!named.TryAdd(pack, factory)) throw new ArgumentException($"pack \"{pack}\" is registered twice");
        return this;
    }

    /// <summary>A family of pack folders: <paramref name="open"/> returns null for a pack.json that is not of its family.</summary>
    public PackRegistry RegisterFolders(string family, Func<string, PackManifest, IModelPack?> open)
    {
        families.Add((family, open));
        return this;
    }

    /// <summary>A built-in pack by name, or a folder holding a pack.json.</summary>
    /// <exception cref="InputException">Nothing is registered for <paramref name="pack"/>.</exception>
    public IModelPack Resolve(string pack, string field = "--pack")
    {
        if (string.IsNullOrWhiteSpace(pack)) throw new InputException(field, "empty; name a model pack, e.g. shapes, or a pack folder");
        if (named.TryGetValue(pack, out var factory)) return factory();
        string manifestPath = Path.Combine(pack, PackManifest.FileName);
        if (File.Exists(manifestPath))
        {
            var manifest = PackManifest.Load(manifestPath);
            foreach (var (_, open) in families)
                if (open(Path.GetFullPath(pack), manifest) is IModelPack opened) return opened;
            throw new InputException(field,
                $"{manifestPath} is not a pack this build can run (families: {(families.Count == 0 ? "none" : string.Join(", ", families.Select(f => f.Family)))}); " +
                "`finerewards pack create sd` writes one for a Stable Diffusion checkpoint");
        }
        throw new InputException(field,
            $"no engine is registered for pack \"{pack}\" in this build (built-in packs: {(named.Count == 0 ? "none" : string.Join(", ", Packs))}), " +
            $"and {Path.GetFullPath(pack)} is no pack folder (no {PackManifest.FileName})");
    }
}
