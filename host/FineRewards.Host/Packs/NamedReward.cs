using FineRewards.Core.Contracts;

namespace FineRewards.Host.Packs;

/// <summary>A reward under the name a pack offers it by ("sam" for the segment reward, "clip" for CLIPScore).</summary>
sealed class NamedReward(string name, IReward inner) : IReward
{
    public string Name => name;
    public string Version => inner.Version;
    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        inner.Score(prompt, images, cancellationToken).Select(s => s with { Reward = name }).ToList();
}
