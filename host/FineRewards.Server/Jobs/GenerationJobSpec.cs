using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;

namespace FineRewards.Server.Jobs;

public enum PreviewPolicy { None, Thumbnails }

/// <summary>
/// A best-of-K generation job as the client asked for it, defaults filled in. The host keeps it
/// as JSON; its hash tells a retried submit (same id, same spec) from a clash (same id, other spec).
/// </summary>
public sealed record GenerationJobSpec(
    string Prompt,
    string NegativePrompt,
    int K,
    SeedPolicy SeedPolicy,
    long BaseSeed,
    string Sampler,
    int Steps,
    double Guidance,
    int Width,
    int Height,
    string Pack,
    IReadOnlyList<LoraReference> Loras,
    IReadOnlyList<string> Rewards,
    CombineMethod Combine,
    IReadOnlyDictionary<string, double> Weights,
    PreviewPolicy Preview)
{    /// <summary>A skip names one of the job's candidates, 0 to K-1.</summary>
    public void RequireCandidate(int candidateIndex, string jobId)
    {
        if (candidateIndex < 0 || candidateIndex >= K)
            throw new FineRewards.Contracts.InputException("candidate_index", $"{candidateIndex} is outside 0..{K - 1} (job {jobId} has k={K})");
    }


    public string ToJson() => JsonSerializer.Serialize(this);

    public static GenerationJobSpec FromJson(string json) =>
        JsonSerializer.Deserialize<GenerationJobSpec>(json) ?? throw new InvalidDataException("job spec JSON is null");

    public string Hash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())));

    public GenerationRequest ToRequest(long baseSeed) =>
        new(Prompt, K, baseSeed, NegativePrompt, Sampler, Steps, Guidance, Width, Height, Loras);
}
