using FineRewards.Contracts;
using FineRewards.Core.Ranking;

namespace FineRewards.Core.Packs;

/// <summary>
/// What a command may change about a pack's rewards (`score`'s and `bench rewards`' options); the host and the
/// training rounds use the pack's own (<see cref="IModelPack.CreateReward"/>).
/// </summary>
/// <param name="Judge">Label judge of the segment rewards: "lexical", "llm:PATH.gguf", or null for the pack's own.</param>
/// <param name="Embedder">Text embedder of the caption reward: "minilm" or "clip" (the pack's text tower).</param>
/// <param name="Seed">Seed of the random reward.</param>
/// <param name="Coverage">Weight of the segment reward's coverage term (0: the paper's eq. 5).</param>
/// <param name="CountAware">The coverage term compares counts.</param>
public sealed record RewardOptions(string? Judge = null, string Embedder = "minilm", long Seed = 0, double Coverage = 0, bool CountAware = false)
{
    public static readonly RewardOptions PackDefault = new();
}

/// <summary>
/// Rewards built once for one caller (<see cref="IModelPack.OpenRewards"/>), scoring and ranking candidate images
/// (<see cref="BestOfK.ScoreAndRank"/>); disposing it frees the models it loaded. A pack's scorer derives from it
/// and builds <see cref="Rewards"/> from its models.
/// </summary>
public class RewardSet : IDisposable
{
    readonly List<IDisposable> _owned = [];
    readonly Func<string, ILabelJudge>? _openJudge;
    ILabelJudge? _judge;

    public IReadOnlyList<(string Name, IReward Reward)> Rewards { get; protected init; } = [];
    public RewardOptions Options { get; }
    /// <summary>The judge the segment rewards ask, as a spec ("lexical", "llm:PATH"), after the pack's default is applied.</summary>
    public string Judge { get; }

    /// <param name="openJudge">Opens a judge from its spec; null when the set has no segment reward to judge for.</param>
    protected RewardSet(RewardOptions options, string judge, Func<string, ILabelJudge>? openJudge)
    {
        Options = options;
        Judge = judge;
        _openJudge = openJudge;
    }

    /// <summary>A pack's shared reward objects, not owned: disposing the set leaves them to the pack.</summary>
    public RewardSet(IReadOnlyList<(string Name, IReward Reward)> rewards, RewardOptions options, string judge) : this(options, judge, null) => Rewards = rewards;

    /// <summary>The segment reward variants share one judge, so an LLM judge is loaded once.</summary>
    protected ILabelJudge SharedJudge()
    {
        if (_judge is not null) return _judge;
        var judge = (_openJudge ?? throw new InvalidOperationException("this reward set opens no judge"))(Judge);
        if (judge is IDisposable disposable) Own(disposable);
        return _judge = judge;
    }

    protected T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    /// <exception cref="InputException">No prompt, no images, or a prompt the set's judge cannot read (named "--prompt").</exception>
    public BestOfKResult Score(string prompt, IReadOnlyList<(string Id, RgbImage Image)> candidates, CombineMethod method)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException("--prompt", "is empty; expected a prompt such as \"a red circle\"");
        if (candidates.Count == 0) throw new InputException("images", "no images to score");
        // A judge that cannot read the prompt (the lexical judge outside its grammar) says so now, rather than
        // every candidate being flagged "judge-failed".
        if (_judge is not null)
        {
            try { _judge.Judge(prompt.Trim(), []); }
            catch (InputException e) { throw new InputException("--prompt", e.Message[(e.Field.Length + 2)..]); }
        }
        return BestOfK.ScoreAndRank(Rewards, prompt, candidates, new BestOfKSettings(method));
    }

    public virtual void Dispose()
    {
        foreach (var o in Enumerable.Reverse(_owned)) o.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>What `bench rewards` measures on a pack: prompts of the sanity check, renders per reader metric, K and repeats of the timings.</summary>
public sealed record RewardBenchSettings(int Prompts, int EvalImages, int K, int Repeats, long Seed);

/// <summary>
/// A pack that can check its own reward models (`bench rewards`): its readers' metrics on held-out data, whether
/// each reward prefers a correct image to a near miss, time per image. Only packs whose world can be rendered have it.
/// </summary>
public interface IRewardBench
{
    /// <returns>The report, as printed.</returns>
    string BenchRewards(RewardBenchSettings settings, IReadOnlyList<string> rewards, RewardOptions options, Action<string> progress);
}
