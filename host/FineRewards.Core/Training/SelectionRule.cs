using FineRewards.Core.Ranking;

namespace FineRewards.Core.Training;

/// <summary>
/// How a round picks the image it keeps for a prompt: a ranking <see cref="CombineMethod"/>
/// (arl, sum, normalized, single:NAME) or "random", the paper's random-selection baseline
/// (a uniform pick, seeded from the run seed, round and prompt).
/// </summary>
public sealed record SelectionRule(CombineMethod? Combine)
{
    public static readonly SelectionRule Random = new((CombineMethod?)null);

    public bool IsRandom => Combine is null;

    public static SelectionRule Parse(string text, string field = "--combine") =>
        text.Trim() == "random" ? Random : new SelectionRule(CombineMethod.Parse(text, field));

    public override string ToString() => Combine?.ToString() ?? "random";
}
