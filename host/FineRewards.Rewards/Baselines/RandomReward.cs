using System.Security.Cryptography;
using System.Text;
using FineRewards.Contracts;

namespace FineRewards.Rewards.Baselines;

/// <summary>
/// A control baseline: a uniform score in [0, 1) that depends only on (seed, prompt, candidate index),
/// so a rerun with the same seed ranks the same way on any machine (string.GetHashCode is per-process,
/// hence SHA-256).
/// </summary>
public sealed class RandomReward(long seed) : IReward
{
    public string Name => "random";
    public string Version => $"random-v1+seed{seed}";

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        var details = new Dictionary<string, string> { ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var scores = new List<RewardScore>(images.Count);
        for (int i = 0; i < images.Count; i++)
            scores.Add(new RewardScore(Name, Draw(prompt, i), new RewardEvidence(Details: details)));
        return scores;
    }

    double Draw(string prompt, int index)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{index}\n{prompt}"));
        // Top 53 bits give every double in [0, 1) on the 2^-53 grid.
        ulong bits = BitConverter.ToUInt64(hash, 0) >> 11;
        return bits / (double)(1UL << 53);
    }
}
