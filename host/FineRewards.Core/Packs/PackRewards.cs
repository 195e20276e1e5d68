using FineRewards.Contracts;

namespace FineRewards.Core.Packs;

/// <summary>A reward under the name a pack offers it by ("sam" for the segment reward, "clip" for CLIPScore).</summary>
public sealed class NamedReward(string name, IReward inner) : IReward
{
    public string Name => name;
    public string Version => inner.Version;
    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        inner.Score(prompt, images, cancellationToken).Select(s => s with { Reward = name }).ToList();
}

/// <summary>
/// A pack's rewards by the names it offers, built by its scorer on first use (the scorer loads every reader model once)
/// and handed out as the same objects on every call, so the host, a job and a training round share them.
/// </summary>
public sealed class PackRewards(string pack, IReadOnlyList<string> offered, Func<IReadOnlyList<(string Name, IReward Reward)>> build)
{
    readonly Lazy<IReadOnlyList<(string Name, IReward Reward)>> built = new(build);
    readonly Dictionary<string, IReward> named = new(StringComparer.Ordinal);

    /// <exception cref="InputException">The pack does not offer <paramref name="name"/>.</exception>
    public IReward Get(string name)
    {
        if (!offered.Contains(name))
            throw new InputException("--rewards", $"pack \"{pack}\" has no reward \"{name}\"; it has: {string.Join(", ", offered)}");
        lock (named)
        {
            if (!named.TryGetValue(name, out var reward))
                named[name] = reward = new NamedReward(name, built.Value.Single(r => r.Name == name).Reward);
            return reward;
        }
    }
}
