using FineRewards.Contracts;

namespace FineRewards.Diffusion.Lora;

/// <summary>
/// Which layers get adapters and how big they are. Defaults follow the paper's reference: rank 4,
/// alpha = rank, on the attention projections to_q, to_k, to_v and to_out.0 of every attention layer.
/// </summary>
/// <param name="IncludeFeedForward">Also adapt the transformer feed-forward layers (ff.net.0.proj, ff.net.2).</param>
public sealed record LoraConfig(int Rank = 4, double Alpha = 4, bool IncludeFeedForward = false)
{
    static readonly string[] AttentionSuffixes = { ".to_q", ".to_k", ".to_v", ".to_out.0" };
    static readonly string[] FeedForwardSuffixes = { ".ff.net.0.proj", ".ff.net.2" };

    public bool Targets(string modulePath) =>
        AttentionSuffixes.Any(modulePath.EndsWith) || (IncludeFeedForward && FeedForwardSuffixes.Any(modulePath.EndsWith));

    public void Validate()
    {
        if (Rank < 1) throw new Contracts.InputException("lora.rank", $"rank {Rank} must be at least 1");
        if (!double.IsFinite(Alpha) || Alpha <= 0) throw new Contracts.InputException("lora.alpha", $"alpha {Alpha} must be a positive number");
    }
}
