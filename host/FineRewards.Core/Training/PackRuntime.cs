using FineRewards.Core.Contracts;

namespace FineRewards.Core.Training;

/// <summary>Generation settings a pack works best with (its image size, sampler and steps).</summary>
public sealed record GenerationSettings(
    string Sampler = "ddim",
    int Steps = 25,
    double Guidance = 7.5,
    int Width = 64,
    int Height = 64,
    string NegativePrompt = "");

/// <summary>The ground-truth verdict on one image (the Shapes world can tell; real packs cannot).</summary>
/// <param name="Task">The prompt's task (e.g. "counting"), for per-task accuracy.</param>
public sealed record GroundTruthVerdict(string Task, bool Correct, IReadOnlyList<string> Reasons);

/// <summary>Knows whether an image shows exactly what its prompt says. Evaluation only, never a reward.</summary>
public interface IGroundTruth
{
    string Name { get; }
    GroundTruthVerdict Evaluate(string prompt, RgbImage image);
}

/// <summary>
/// What a model pack gives the training loop and the eval command: its generator, its LoRA trainer,
/// its rewards by name, and (where the pack's world has one) a ground-truth evaluator. The seam
/// where an engine (the Shapes pack, Stable Diffusion) plugs into the generic round engine.
/// Members are null when this build of the pack lacks them; <see cref="PackRuntimeChecks"/> turns
/// that into an error that names the pack and the missing part.
/// </summary>
public interface IPackRuntime : IDisposable
{
    string Pack { get; }
    IImageGenerator? Generator { get; }
    ILoraTrainer? Trainer { get; }
    IGroundTruth? GroundTruth { get; }
    GenerationSettings DefaultGeneration { get; }
    /// <summary>Names <see cref="CreateReward"/> accepts, e.g. caption, sam, clip, random.</summary>
    IReadOnlyList<string> RewardNames { get; }
    /// <exception cref="InputException">The pack has no reward of that name.</exception>
    IReward CreateReward(string name);
    /// <summary>Checks one prompt the pack's way (Shapes: its grammar); throws <see cref="InputException"/> naming <paramref name="field"/>.</summary>
    void ValidatePrompt(string prompt, string field);
}

public static class PackRuntimeChecks
{
    public static IImageGenerator RequireGenerator(this IPackRuntime runtime) =>
        runtime.Generator ?? throw new InputException("--pack", $"pack \"{runtime.Pack}\" has no image generator in this build (the diffusion engine for it is not registered)");

    public static ILoraTrainer RequireTrainer(this IPackRuntime runtime) =>
        runtime.Trainer ?? throw new InputException("--pack", $"pack \"{runtime.Pack}\" has no LoRA trainer in this build, so it cannot run training rounds");

    public static IGroundTruth RequireGroundTruth(this IPackRuntime runtime) =>
        runtime.GroundTruth ?? throw new InputException("--pack", $"pack \"{runtime.Pack}\" has no ground-truth evaluator; accuracy needs a pack whose world can be checked (shapes)");

    /// <summary>Creates each named reward, refusing unknown and repeated names.</summary>
    public static IReadOnlyList<IReward> CreateRewards(this IPackRuntime runtime, IReadOnlyList<string> names, string field = "--rewards")
    {
        if (names.Count == 0) throw new InputException(field, "no rewards; expected one or more of " + string.Join(", ", runtime.RewardNames));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var rewards = new List<IReward>();
        foreach (string name in names)
        {
            if (!seen.Add(name)) throw new InputException(field, $"reward \"{name}\" is named twice");
            if (!runtime.RewardNames.Contains(name))
                throw new InputException(field, $"pack \"{runtime.Pack}\" has no reward \"{name}\"; it has: {string.Join(", ", runtime.RewardNames)}");
            var reward = runtime.CreateReward(name);
            if (reward.Name != name) throw new InvalidOperationException($"pack \"{runtime.Pack}\" made reward \"{reward.Name}\" when asked for \"{name}\"");
            rewards.Add(reward);
        }
        return rewards;
    }
}

/// <summary>
/// Pack name to runtime factory. The executable registers the engines it was built with; a command
/// resolves the pack the user named and fails clearly when nothing is registered for it.
/// </summary>
public sealed class PackRuntimeRegistry
{
    readonly Dictionary<string, Func<IPackRuntime>> factories = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Packs => factories.Keys.Order(StringComparer.Ordinal).ToList();

    public PackRuntimeRegistry Register(string pack, Func<IPackRuntime> factory)
    {
        if (!factories.TryAdd(pack, factory)) throw new ArgumentException($"a runtime for pack \"{pack}\" is registered twice");
        return this;
    }

    /// <exception cref="InputException">No runtime is registered for <paramref name="pack"/>.</exception>
    public IPackRuntime Resolve(string pack, string field = "--pack")
    {
        if (string.IsNullOrWhiteSpace(pack)) throw new InputException(field, "empty; name a model pack, e.g. shapes");
        if (!factories.TryGetValue(pack, out var factory))
            throw new InputException(field,
                $"no engine is registered for pack \"{pack}\" in this build: it needs an image generator, a LoRA trainer and the pack's rewards " +
                $"(registered packs: {(factories.Count == 0 ? "none" : string.Join(", ", Packs))})");
        return factory();
    }
}
