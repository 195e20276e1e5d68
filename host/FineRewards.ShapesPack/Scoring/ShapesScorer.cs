using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Judge;
using FineRewards.Rewards.Baselines;
using FineRewards.Rewards.Caption;
using FineRewards.Rewards.Embedders;
using FineRewards.Rewards.Segments;
using FineRewards.Shapes.Judges;
using FineRewards.ShapesPack.Readers;

namespace FineRewards.ShapesPack.Scoring;

/// <summary>
/// The Shapes pack's rewards on its reader models (each loaded once): caption (captioner + text embedder), the segment
/// reward sam and its variants, clip (the contrastive model) and random. sam_coverage and sam_count are sam with the
/// beyond-the-paper coverage term at weight <see cref="VariantCoverage"/> (count-aware for sam_count), so rounds and evals
/// can compare them with sam side by side; --coverage and --count-aware change "sam" itself. sam_relation is sam plus the
/// relation term at weight <see cref="VariantRelation"/>: the judge reads the prompt's relations and the labelled
/// segments' boxes are checked against them (docs/rewards.md).
/// </summary>
public sealed class ShapesScorer : RewardSet
{
    public static readonly IReadOnlyList<string> Known = ["caption", "sam", "sam_coverage", "sam_count", "sam_relation", "clip", "random"];

    /// <summary>Coverage weight of the sam_coverage and sam_count variants: a missing object costs as much as one "unlikely" verdict's swing.</summary>
    public const double VariantCoverage = 0.5;

    /// <summary>Relation weight of sam_relation: a relation that holds against one that does not swings the score by 1,
    /// twice one label's swing, so placement decides between candidates whose labels are judged alike.</summary>
    public const double VariantRelation = 1.0;

    readonly ShapesPackReaders _readers;

    /// <param name="rewards">Names among <see cref="Known"/>, in output order.</param>
    public ShapesScorer(string packFolder, IReadOnlyList<string> rewards, RewardOptions options)
        : base(options, options.Judge ?? "lexical", spec => LabelJudges.Open(spec, () => new LexicalLabelJudge()))
    {
        _readers = new ShapesPackReaders(packFolder);
        var built = new List<(string, IReward)>();
        foreach (var name in rewards)
            built.Add((name, name switch
            {
                "caption" => new CaptionReward(_readers.Captioner, Embedder(options.Embedder)),
                "sam" => Segments(new SegmentRewardOptions(CoverageWeight: options.Coverage, CountAware: options.CountAware)),
                "sam_coverage" => Segments(new SegmentRewardOptions(CoverageWeight: VariantCoverage)),
                "sam_count" => Segments(new SegmentRewardOptions(CoverageWeight: VariantCoverage, CountAware: true)),
                "sam_relation" => Segments(new SegmentRewardOptions(RelationWeight: VariantRelation)),
                "clip" => new ClipScoreReward(_readers.Contrastive),
                "random" => new RandomReward(options.Seed),
                _ => throw new InputException("--rewards", $"unknown reward \"{name}\" for the Shapes pack; expected {string.Join(", ", Known)}"),
            }));
        Rewards = built;
    }

    /// <summary>The reader models the rewards run on (`bench rewards` measures them).</summary>
    public ShapesPackReaders Readers => _readers;

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
