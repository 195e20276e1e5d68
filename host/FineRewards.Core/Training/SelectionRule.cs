using FineRewards.Core.Ranking;

namespace FineRewards.Core.Training;

/// <summary>
/// How a round picks the image it keeps for a prompt: a ranking <see cref="CombineMethod"/>
/// (arl, sum, normalized, single:NAME) or "random", the paper's random-selection baseline
/// (a uniform pick, seeded from the run seed, round and prompt), or "oracle": the pack's ground truth
/// picks (a correct candidate, the best by ARL among the correct ones; a prompt without one is not
/// kept). The oracle is an experiment's upper bound on what any reward could select, never a reward.
/// </summary>
public sealed record SelectionRule(CombineMethod? Combine, bool IsOracle = false)
{
    public static readonly SelectionRule Random = new((CombineMethod?)null);
    public static readonly SelectionRule Oracle = new(CombineMethod.Parse("arl"), IsOracle: true);

    public bool IsRandom => Combine is null;

    public static SelectionRule Parse(string text, string field = "--combine") => text.Trim() switch
    {
        "random" => Random,
        "oracle" => Oracle,
        _ => new SelectionRule(CombineMethod.Parse(text, field)),
    };

    public override string ToString() => IsOracle ? "oracle" : Combine?.ToString() ?? "random";
}
