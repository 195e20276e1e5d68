using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Training;
using FineRewards.Host.Scoring;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.ShapesPack;
using FineRewards.ShapesPack.Readers;

namespace FineRewards.Host.Packs;

/// <summary>
/// The built-in Shapes pack as the training loop and the eval command see it: the diffusion model of
/// packs/shapes/diffusion through the same StableDiffusionPipeline and LoraTrainer as real checkpoints,
/// the rewards on the pack's reader models (as `score` builds them), and the world's ground truth.
/// Models load on first use, so `train --help` or a bad prompts file costs nothing.
/// </summary>
public sealed class ShapesPackRuntime : IPackRuntime
{
    /// <summary>Reward names on the command line, mapped to the names `score` uses for the same rewards.</summary>
    static readonly IReadOnlyList<string> Names = ScoringSetup.Known;

    readonly string folder;
    readonly Lazy<StableDiffusionPipeline> pipeline;
    readonly Lazy<LoraTrainer> trainer;
    readonly Lazy<ShapesScorer> scorer;

    public ShapesPackRuntime(string packFolder)
    {
        folder = packFolder;
        pipeline = new(() => StableDiffusionPipeline.FromDiffusersFolder(Path.Combine(folder, "diffusion")));
        trainer = new(() => new LoraTrainer(pipeline.Value));
        scorer = new(() => new ShapesScorer(folder, new ScoringSetup(Names)));
    }

    /// <summary>The pack found by name the way `score` finds it (next to the executable, $FINEREWARDS_PACKS, the checkout).</summary>
    public static ShapesPackRuntime Locate() => new(ShapesPackReaders.Locate(ShapesPackInfo.Name));

    public string Pack => ShapesPackInfo.Name;
    public IImageGenerator? Generator => pipeline.Value;
    public ILoraTrainer? Trainer => trainer.Value;
    public IGroundTruth? GroundTruth { get; } = new ShapesGroundTruth();
    /// <summary>What the pack was evaluated with at training time (docs/shapes-pack.md).</summary>
    public GenerationSettings DefaultGeneration { get; } = new(Sampler: "ddim", Steps: 20, Guidance: 4.0);
    public IReadOnlyList<string> RewardNames => Names;

    public IReward CreateReward(string name)
    {
        if (!Names.Contains(name)) throw new InputException("--rewards", $"pack \"shapes\" has no reward \"{name}\"; it has: {string.Join(", ", Names)}");
        return new NamedReward(name, scorer.Value.Rewards.Single(r => r.Name == name).Reward);
    }

    public void ValidatePrompt(string prompt, string field) => ShapesGroundTruth.ValidatePrompt(prompt, field);

    /// <summary>
    /// What the host checks a new LoRA on besides a profile's own prompts: validation-split prompts (never the test
    /// split the experiments report), two per task, taken a task at a time so any first few mix the tasks.
    /// </summary>
    public static IReadOnlyList<string> ProbePrompts()
    {
        var perTask = PromptWords.Tasks.Select(t => PromptCatalog.Split(t, PromptSplit.Validation).Take(2).ToList()).ToList();
        return Enumerable.Range(0, 2).SelectMany(i => perTask.Where(l => l.Count > i).Select(l => l[i].Text)).ToList();
    }

    public void Dispose()
    {
        if (scorer.IsValueCreated) scorer.Value.Dispose();
        if (pipeline.IsValueCreated) pipeline.Value.Dispose();
    }

    /// <summary>A reward under its command-line name ("sam" for the segment reward, "clip" for CLIPScore).</summary>
    sealed class NamedReward(string name, IReward inner) : IReward
    {
        public string Name => name;
        public string Version => inner.Version;
        public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
            inner.Score(prompt, images, cancellationToken).Select(s => s with { Reward = name }).ToList();
    }
}
