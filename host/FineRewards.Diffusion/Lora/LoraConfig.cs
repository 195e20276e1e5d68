using FineRewards.Contracts;

namespace FineRewards.Diffusion.Lora;

/// <summary>
/// Which layers get adapters and how big they are. Defaults follow the paper's reference: rank 4,
/// alpha = rank, on the attention projections to_q, to_k, to_v and to_out.0 of every attention layer.
/// </summary>
/// <param name="Targets">One of <see cref="LoraTargets.All"/>; what each set reaches is said there.</param>
public sealed record LoraConfig(int Rank = 4, double Alpha = 4, string Targets = LoraTargets.Attention)
{
    static readonly string[] AttentionSuffixes = { ".to_q", ".to_k", ".to_v", ".to_out.0" };
    static readonly string[] FeedForwardSuffixes = { ".ff.net.0.proj", ".ff.net.2" };
    // conv_in, conv_out and time_embedding sit outside these: see LoraTargets.
    static readonly string[] UNetBlockPrefixes = { "down_blocks.", "mid_block.", "up_blocks." };

    /// <summary>Whether the text encoder's Linear layers are adapted too.</summary>
    public bool IncludesTextEncoder => Targets == LoraTargets.UNetText;

    /// <summary>Whether the UNet layer at <paramref name="modulePath"/> (a Linear or Conv2d) gets an adapter.</summary>
    public bool AdaptsUNetLayer(string modulePath) => Targets switch
    {
        LoraTargets.Attention => AttentionSuffixes.Any(modulePath.EndsWith),
        LoraTargets.AttentionFeedForward => AttentionSuffixes.Any(modulePath.EndsWith) || FeedForwardSuffixes.Any(modulePath.EndsWith),
        _ => UNetBlockPrefixes.Any(p => modulePath.StartsWith(p, StringComparison.Ordinal)),
    };

    public void Validate()
    {
        if (Rank < 1) throw new Contracts.InputException("lora.rank", $"rank {Rank} must be at least 1");
        if (!double.IsFinite(Alpha) || Alpha <= 0) throw new Contracts.InputException("lora.alpha", $"alpha {Alpha} must be a positive number");
        if (!LoraTargets.All.Contains(Targets))
            throw new Contracts.InputException("lora.targets", $"\"{Targets}\"; expected one of {string.Join(", ", LoraTargets.All)}");
    }
}
