namespace FineRewards.Server.Models;

/// <summary>
/// What a pack accepts, as its engine declares it: GetCapabilities lists it, and SubmitGeneration
/// and CheckPrompt enforce it before anything is queued.
/// </summary>
/// <param name="Rewards">Rewards that can score the pack's images; null: every reward the host has.</param>
/// <param name="DefaultRewards">What a request without rewards ranks with; null: the pack's rewards but the baselines.</param>
/// <param name="Samplers">The engine's samplers; empty: the engine does not say, and any sampler name is passed on.</param>
/// <param name="CheckPrompt">The pack's own prompt check (Shapes: its grammar), throwing an InputException that names the field; null: any prompt.</param>
/// <param name="ExamplePrompt">A prompt the pack accepts, offered as the fix when one is refused.</param>
public sealed record PackCapabilities(
    IReadOnlyList<string>? Rewards = null,
    IReadOnlyList<string>? DefaultRewards = null,
    IReadOnlyList<string>? Samplers = null,
    Action<string, string>? CheckPrompt = null,
    string? ExamplePrompt = null)
{
    /// <summary>Rewards that exist to compare against (docs/ranking.md), never used unless asked for.</summary>
    public static readonly IReadOnlyList<string> Baselines = ["random"];

    public static readonly PackCapabilities Unrestricted = new();

    /// <summary>The declared lists against the rewards the host really has (a declared reward it lacks is dropped).</summary>
    public PackCapabilities Resolve(IReadOnlyList<string> hostRewards)
    {
        var rewards = Rewards is null ? hostRewards.ToList() : Rewards.Where(hostRewards.Contains).ToList();
        var defaults = (DefaultRewards ?? rewards.Where(r => !Baselines.Contains(r)).ToList()).Where(rewards.Contains).ToList();
        return this with { Rewards = rewards, DefaultRewards = defaults, Samplers = Samplers ?? [] };
    }
}
