using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Shapes.Judges;
using FineRewards.Judge.Llm;
using FineRewards.Rewards.Baselines;
using FineRewards.Rewards.Caption;
using FineRewards.Rewards.Embedders;
using FineRewards.Rewards.Segments;
using FineRewards.Shapes.Grammar;
using FineRewards.ShapesPack.Readers;

namespace FineRewards.Host.Scoring;

/// <summary>What `score` and `bench rewards` run: which rewards, judge, embedder, and the options beyond the paper.</summary>
/// <param name="Rewards">Names among <see cref="Known"/>, in output order. sam_coverage and sam_count are the segment
/// reward with the beyond-the-paper terms at weight <see cref="VariantCoverage"/> (count-aware for sam_count), so rounds
/// and evals can compare them with sam side by side; --coverage and --count-aware change "sam" itself. sam_relation is
/// "sam" plus the relation term at weight <see cref="VariantRelation"/>: the judge reads the prompt's relations and the
/// labelled segments' boxes are checked against them (docs/rewards.md).</param>
/// <param name="Judge">"lexical", or "llm:PATH.gguf".</param>
/// <param name="Embedder">"minilm" (all-MiniLM-L6-v2) or "clip" (the pack's contrastive text tower).</param>
public sealed record ScoringSetup(
    IReadOnlyList<string> Rewards,
    string Judge = "lexical",
    string Embedder = "minilm",
    long Seed = 0,
    double Coverage = 0,
    bool CountAware = false)
{
    public static readonly IReadOnlyList<string> Known = ["caption", "sam", "sam_coverage", "sam_count", "sam_relation", "clip", "random"];

    /// <summary>Coverage weight of the sam_coverage and sam_count variants: a missing object costs as much as one "unlikely" verdict's swing.</summary>
    public const double VariantCoverage = 0.5;

    /// <summary>Relation weight of sam_relation: a relation that holds against one that does not swings the score by 1,
    /// twice one label's swing, so placement decides between candidates whose labels are judged alike.</summary>
    public const double VariantRelation = 1.0;

    public static IReadOnlyList<string> ParseRewards(string text, IReadOnlyList<string>? known = null)
    {
        var allowed = known ?? Known;
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
        if (names.Count == 0) throw new InputException("--rewards", $"is empty; expected a comma-separated list of {string.Join(", ", allowed)}");
        foreach (var n in names)
            if (!allowed.Contains(n)) throw new InputException("--rewards", $"unknown reward \"{n}\"; expected {string.Join(", ", allowed)}");
        if (names.Distinct().Count() != names.Count) throw new InputException("--rewards", "names a reward twice");
        return names;
    }
}

/// <summary>
/// Scores candidate images of a prompt with a set of rewards built once, and ranks them
/// (<see cref="BestOfK.ScoreAndRank"/>). Subclasses build the rewards from a pack's models.
/// </summary>
public abstract class CandidateScorer : IDisposable
{
    readonly List<IDisposable> _owned = [];
    ILabelJudge? _judge;

    public IReadOnlyList<(string Name, IReward Reward)> Rewards { get; protected init; } = [];
    public ScoringSetup Setup { get; }

    protected CandidateScorer(ScoringSetup setup) => Setup = setup;

    /// <summary>The sam variants share one judge, so an LLM judge is loaded once.</summary>
    protected ILabelJudge SharedJudge() => _judge ??= Judge(Setup.Judge);

    ILabelJudge Judge(string spec)
    {
        if (spec == "lexical") return new LexicalLabelJudge();
        if (spec.StartsWith("llm:", StringComparison.Ordinal))
        {
            string path = spec["llm:".Length..];
            if (!File.Exists(path)) throw new InputException("--judge", $"GGUF file {path} does not exist");
            return Own(new LlmLabelJudge(new LlmJudgeOptions(path)));
        }
        throw new InputException("--judge", $"unknown judge \"{spec}\"; expected lexical or llm:PATH.gguf");
    }

    protected T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public BestOfKResult Score(string prompt, IReadOnlyList<(string Id, RgbImage Image)> candidates, CombineMethod method)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException("--prompt", "is empty; expected a prompt such as \"a red circle\"");
        if (candidates.Count == 0) throw new InputException("images", "no images to score");
        // The lexical judge needs a grammar prompt; say so now rather than flag every candidate "judge-failed".
        if (Setup.Rewards.Any(r => r.StartsWith("sam", StringComparison.Ordinal)) && Setup.Judge == "lexical") PromptGrammar.Parse(prompt.Trim(), "--prompt");
        return BestOfK.ScoreAndRank(Rewards, prompt, candidates, new BestOfKSettings(method));
    }

    public virtual void Dispose()
    {
        foreach (var o in Enumerable.Reverse(_owned)) o.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Builds the rewards of a <see cref="ScoringSetup"/> on a Shapes pack's readers (each model loaded once).</summary>
public sealed class ShapesScorer : CandidateScorer
{
    readonly ShapesPackReaders _readers;

    public ShapesScorer(string packFolder, ScoringSetup setup) : base(setup)
    {
        _readers = new ShapesPackReaders(packFolder);
        var rewards = new List<(string, IReward)>();
        foreach (var name in setup.Rewards)
            rewards.Add((name, name switch
            {
                "caption" => new CaptionReward(_readers.Captioner, Embedder(setup.Embedder)),
                "sam" => Segments(new SegmentRewardOptions(CoverageWeight: setup.Coverage, CountAware: setup.CountAware)),
                "sam_coverage" => Segments(new SegmentRewardOptions(CoverageWeight: ScoringSetup.VariantCoverage)),
                "sam_count" => Segments(new SegmentRewardOptions(CoverageWeight: ScoringSetup.VariantCoverage, CountAware: true)),
                "sam_relation" => Segments(new SegmentRewardOptions(RelationWeight: ScoringSetup.VariantRelation)),
                "clip" => new ClipScoreReward(_readers.Contrastive),
                "random" => new RandomReward(setup.Seed),
                _ => throw new InputException("--rewards", $"unknown reward \"{name}\" for the Shapes pack"),
            }));
        Rewards = rewards;
    }

    /// <summary>The sam variants share one judge; sam_relation also asks it (or the lexical reader) for the prompt's relations.</summary>
    SegmentReward Segments(SegmentRewardOptions options)
    {
        var judge = SharedJudge();
        IRelationJudge? relations = options.RelationWeight > 0 ? judge as IRelationJudge ?? new LexicalRelationJudge() : null;
        return new(_readers.Segmenter, judge, options, new ShapesPromptLabels(), relations);
    }

    ITextEmbedder Embedder(string name) => name.ToLowerInvariant() switch
    {
        "minilm" => Own(new MiniLmEmbedder()),
        "clip" => _readers.Contrastive,
        _ => throw new InputException("--embedder", $"unknown embedder \"{name}\"; expected minilm or clip"),
    };

    public override void Dispose()
    {
        base.Dispose();
        _readers.Dispose();
    }
}
