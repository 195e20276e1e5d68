using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Cli.Packs;
using FineRewards.Judge;
using FineRewards.Rewards.Baselines;
using FineRewards.Rewards.Caption;
using FineRewards.Rewards.Embedders;
using FineRewards.Rewards.Onnx;
using FineRewards.Rewards.Segments;

namespace FineRewards.Cli.Scoring;

/// <summary>
/// The rewards of a pack of real reward models (<see cref="OnnxPack"/>): clip (the raw
/// CLIP cosine), sam (SAM everything mode, CLIP zero-shot labels, detector boxes where the pack has a detector, the judge), caption (the ONNX captioner and the text
/// embedder), aesthetic (LAION head) and random.
/// Each model is loaded once and shared (CLIP serves clip, sam's labels and aesthetic).
/// </summary>
public sealed class OnnxPackScorer : RewardSet
{
    public static readonly IReadOnlyList<string> Known = ["clip", "sam", "aesthetic", "random", "caption"];

    public OnnxPack Pack { get; }
    OnnxClip? _clip;

    /// <param name="lexical">The judge "lexical" names (given by the composition root); null: only the pack's GGUF or llm:PATH judge.</param>
    public OnnxPackScorer(OnnxPack pack, IReadOnlyList<string> names, RewardOptions options, Func<ILabelJudge>? lexical, OnnxRuntimeOptions? runtime = null)
        : base(options, options.Judge ?? DefaultJudge(pack), spec => LabelJudges.Open(spec, lexical))
    {
        Pack = pack;
        var problems = pack.Problems();
        if (problems.Count > 0) throw new InputException("--pack", $"pack \"{pack.Manifest.Name}\" ({pack.Folder}) is incomplete: {string.Join("; ", problems)}");
        var rewards = new List<(string, IReward)>();
        foreach (var name in names)
            rewards.Add((name, name switch
            {
                "clip" => new ClipScoreReward(Clip(runtime), weight: null),
                "sam" => Segments(runtime),
                "aesthetic" => new AestheticReward(Clip(runtime), new AestheticHead(pack.Require("aesthetic", OnnxPack.AestheticKind, "the aesthetic reward"))),
                "random" => new RandomReward(options.Seed),
                "caption" => new CaptionReward(Own(new OnnxCaptioner(new OnnxCaptionerOptions(pack.Require("captioner", OnnxPack.CaptionerKind, "the caption reward"), Runtime: runtime))),
                    options.Embedder.ToLowerInvariant() switch
                    {
                        "minilm" => Own(new MiniLmEmbedder()),
                        "clip" => Clip(runtime),
                        _ => throw new InputException("--embedder", $"unknown embedder \"{options.Embedder}\"; expected minilm or clip"),
                    }),
                _ => throw new InputException("--rewards", $"unknown reward \"{name}\"; expected {string.Join(", ", Known)}"),
            }));
        Rewards = rewards;
    }

    /// <summary>The pack's GGUF judge where it has one, else the lexical judge.</summary>
    public static string DefaultJudge(OnnxPack pack) => pack.ComponentPath("judge", OnnxPack.JudgeKind) is string gguf ? "llm:" + gguf : "lexical";

    OnnxClip Clip(OnnxRuntimeOptions? runtime) => _clip ??= Own(Pack.LoadClip(runtime));

    SegmentReward Segments(OnnxRuntimeOptions? runtime)
    {
        var (everything, vocabulary) = Pack.SamSettings();
        var sam = Own(Pack.LoadSam(runtime));
        var detector = Pack.LoadDetector(runtime) is OnnxOwlDetector d ? Own(d) : null;
        return new SegmentReward(new OnnxSegmenter(sam, Clip(runtime), vocabulary, new OnnxSegmenterOptions(everything), detector), SharedJudge(),
            new SegmentRewardOptions(CoverageWeight: Options.Coverage, CountAware: Options.CountAware));
    }
}
