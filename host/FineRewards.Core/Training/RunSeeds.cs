using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace FineRewards.Core.Training;

/// <summary>
/// Every seed of a run comes from (run seed, purpose, round, prompt index) through SHA-256, so a
/// resumed run and an uninterrupted one draw exactly the same numbers, on any machine.
/// </summary>
public static class RunSeeds
{
    /// <summary>Candidate i of prompt p in round r uses Candidates(seed, r, p) + i.</summary>
    public static long Candidates(long runSeed, int round, int prompt) => Derive(runSeed, "candidates", round, prompt);

    /// <summary>The seed of the LoRA training of round r.</summary>
    public static long Training(long runSeed, int round) => Derive(runSeed, "training", round, -1);

    /// <summary>The random-selection baseline's pick for prompt p in round r.</summary>
    public static long Selection(long runSeed, int round, int prompt) => Derive(runSeed, "selection", round, prompt);

    /// <summary>The random baseline's order of the candidates it did not pick, whose first is its preference pair's rejected image (dpo).</summary>
    public static long Rejection(long runSeed, int round, int prompt) => Derive(runSeed, "rejection", round, prompt);

    /// <summary>Before/after preview images: the same seed for a prompt in every round.</summary>
    public static long Preview(long runSeed, int prompt) => Derive(runSeed, "preview", 0, prompt);

    /// <returns>A non-negative value below 2^31, small enough for any generator's seed type.</returns>
    public static long Derive(long runSeed, string purpose, int round, int prompt)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"finerewards-run-v1:{runSeed}:{purpose}:{round}:{prompt}"));
        return BinaryPrimitives.ReadUInt32LittleEndian(hash) & 0x7fff_ffff;
    }
}
