using FineRewards.Contracts;

namespace FineRewards.Core.Ranking;

public enum CombineKind
{
    /// <summary>Assemble Reward-ranked Learning: sum of per-reward ranks, lowest wins (paper eq. 6).</summary>
    Arl,
    /// <summary>Sum of raw scores, highest wins.</summary>
    Sum,
    /// <summary>Per-prompt z-score of each reward across the K candidates, summed, highest wins.</summary>
    Normalized,
    /// <summary>One reward alone, highest score wins.</summary>
    Single,
}

/// <summary>How several rewards are combined into one order. Text form: arl, sum, normalized, single:NAME.</summary>
public sealed record CombineMethod(CombineKind Kind, string? Reward = null)
{
    public static readonly CombineMethod Arl = new(CombineKind.Arl);
    public static readonly CombineMethod Sum = new(CombineKind.Sum);
    public static readonly CombineMethod Normalized = new(CombineKind.Normalized);

    public static CombineMethod Single(string reward) => new(CombineKind.Single, reward);

    /// <summary>True when a lower combined total is better (rank sums); false for score sums.</summary>
    public bool LowerIsBetter => Kind is CombineKind.Arl or CombineKind.Single;

    public static CombineMethod Parse(string text, string field = "method")
    {
        string t = text.Trim();
        switch (t)
        {
            case "arl": return Arl;
            case "sum": return Sum;
            case "normalized": return Normalized;
        }
        if (t.StartsWith("single:", StringComparison.Ordinal))
        {
            string reward = t["single:".Length..];
            if (reward.Length == 0) throw new InputException(field, "single: needs a reward name, e.g. single:caption");
            return Single(reward);
        }
        throw new InputException(field, $"unknown method \"{text}\"; expected arl, sum, normalized or single:NAME");
    }

    public override string ToString() => Kind switch
    {
        CombineKind.Arl => "arl",
        CombineKind.Sum => "sum",
        CombineKind.Normalized => "normalized",
        _ => $"single:{Reward}",
    };
}
