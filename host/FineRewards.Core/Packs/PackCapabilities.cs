namespace FineRewards.Core.Packs;

/// <summary>
/// What a pack accepts, as its engine declares it: the CLI checks `--rewards` against it, the host's
/// GetCapabilities lists it, and SubmitGeneration and SubmitTraining enforce it before anything is queued.
/// </summary>
/// <param name="Rewards">Rewards that can score the pack's images; null: every reward the pack can create.</param>
/// <param name="DefaultRewards">What a request without rewards ranks with; null: the pack's rewards but the baselines.</param>
/// <param name="Samplers">The engine's samplers; empty: the engine does not say, and any sampler name is passed on.</param>
/// <param name="ExamplePrompt">A prompt the pack accepts, offered as the fix when one is refused.</param>
public sealed record PackCapabilities(
    IReadOnlyList<string>? Rewards = null,
    IReadOnlyList<string>? DefaultRewards = null,
    IReadOnlyList<string>? Samplers = null,
    string? ExamplePrompt = null)
{
    /// <summary>Rewards that exist to compare against (docs/ranking.md), never used unless asked for.</summary>
    public static readonly IReadOnlyList<string> Baselines = ["random"];

    public static readonly PackCapabilities Unrestricted = new();

    /// <summary>The declared lists against the rewards that really exist (a declared reward that does not is dropped).</summary>
    public PackCapabilities Resolve(IReadOnlyList<string> available)
    {
        var rewards = Rewards is null ? available.ToList() : Rewards.Where(available.Contains).ToList();
        var defaults = (DefaultRewards ?? rewards.Where(r => !Baselines.Contains(r)).ToList()).Where(rewards.Contains).ToList();
        return this with { Rewards = rewards, DefaultRewards = defaults, Samplers = Samplers ?? [] };
    }
}
