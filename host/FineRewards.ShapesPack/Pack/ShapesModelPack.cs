using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Training;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Judges;
using FineRewards.ShapesPack.Scoring;

namespace FineRewards.ShapesPack.Pack;

/// <summary>
/// The built-in Shapes pack: the diffusion model of packs/shapes/diffusion through the same
/// StableDiffusionPipeline and LoraTrainer as real checkpoints, the rewards on the pack's reader models
/// (<see cref="ShapesScorer"/>), the Shapes grammar as prompt check and the world's ground truth.
/// Models load on first use, so `train --help`, a bad prompts file or a missing pack cost nothing.
/// </summary>
public sealed class ShapesModelPack : IModelPack, IRewardBench
{
    readonly PackStatus status;
    readonly Lazy<StableDiffusionPipeline> pipeline;
    readonly Lazy<LoraTrainer> trainer;
    readonly Lazy<ShapesScorer> scorer;
    readonly PackRewards rewards;

    /// <param name="status">Where the pack was found (or looked for, with its problems).</param>
    public ShapesModelPack(PackStatus status)
    {
        this.status = status;
        pipeline = new(() => StableDiffusionPipeline.FromDiffusersFolder(Path.Combine(this.RequireReady().Folder, "diffusion")));
        trainer = new(() => new LoraTrainer(pipeline.Value));
        scorer = new(() => new ShapesScorer(this.RequireReady().Folder, ShapesScorer.Known, RewardOptions.PackDefault));
        rewards = new PackRewards(ShapesPackInfo.Name, ShapesScorer.Known, () => scorer.Value.Rewards);
    }

    public ShapesModelPack(string packFolder) : this(PackLocator.Check(packFolder, verifyHashes: false)) { }

    /// <summary>
    /// The pack found by name ($FINEREWARDS_PACKS, next to the executable, the user's data folder, then a source
    /// checkout's packs/shapes); when none has it, a pack whose <see cref="Check"/> says where it looked.
    /// </summary>
    public static ShapesModelPack Locate()
    {
        var found = PackLocator.Default().Find(ShapesPackInfo.Name);
        if (found.Manifest is null && ShapesPackInfo.SourceFolder() is string source && File.Exists(Path.Combine(source, PackManifest.FileName)))
            found = PackLocator.Check(source, verifyHashes: false);
        return new ShapesModelPack(found);
    }

    /// <summary>A pack folder of the Shapes family (pack.json named "shapes"), or null.</summary>
    public static IModelPack? Open(string folder, PackManifest manifest) =>
        manifest.Name == ShapesPackInfo.Name ? new ShapesModelPack(folder) : null;

    /// <summary>The Shapes world's word-matching label judge (`--judge lexical`), for packs that have no judge of their own.</summary>
    public static ILabelJudge LexicalJudge() => new LexicalLabelJudge();

    public string Name => ShapesPackInfo.Name;

    public PackStatus Check() => status.Ready ? status : status with
    {
        Fix = $"put the built-in pack's folder (packs/{ShapesPackInfo.Name} of the source tree) next to the executable or under ${PackLocator.EnvironmentVariable}; " +
              $"`finerewards pack verify {ShapesPackInfo.Name}` checks its files",
    };

    public PackCapabilities Capabilities { get; } = new(ShapesScorer.Known, ShapesPackInfo.DefaultRewards, SchedulerFactory.Names, ShapesPackInfo.ExamplePrompt);
    /// <summary>What the pack was evaluated with at training time (docs/shapes-pack.md), at the world's canvas size.</summary>
    public GenerationSettings DefaultGeneration { get; } = new(Sampler: "ddim", Steps: 20, Guidance: 4.0,
        Width: FineRewards.Shapes.World.Scene.Canvas, Height: FineRewards.Shapes.World.Scene.Canvas);
    public IReadOnlyList<string> ProbePrompts { get; } = ValidationProbes();
    public IImageGenerator? Generator => pipeline.Value;
    public ILoraTrainer? Trainer => trainer.Value;
    public IGroundTruth? GroundTruth { get; } = new ShapesGroundTruth();

    public IReward CreateReward(string name) => rewards.Get(name);

    /// <summary>A scorer of its own (the reader models loaded again), so `score`'s judge, embedder and coverage leave the shared rewards alone.</summary>
    public RewardSet OpenRewards(IReadOnlyList<string> names, RewardOptions options) =>
        new ShapesScorer(this.RequireReady().Folder, this.CheckRewardNames(names), options);

    public string BenchRewards(RewardBenchSettings settings, IReadOnlyList<string> rewards, RewardOptions options, Action<string> progress) =>
        RewardBench.Run(this.RequireReady().Folder, settings.Prompts, settings.EvalImages, settings.K, settings.Repeats, settings.Seed,
            this.CheckRewardNames(rewards), options, progress);

    public void ValidatePrompt(string prompt, string field) => ShapesGroundTruth.ValidatePrompt(prompt, field);

    /// <summary>
    /// What the host checks a new LoRA on besides a profile's own prompts: validation-split prompts (never the test
    /// split the experiments report), two per task, taken a task at a time so any first few mix the tasks.
    /// </summary>
    static IReadOnlyList<string> ValidationProbes()
    {
        var perTask = PromptWords.Tasks.Select(t => PromptCatalog.Split(t, PromptSplit.Validation).Take(2).ToList()).ToList();
        return Enumerable.Range(0, 2).SelectMany(i => perTask.Where(l => l.Count > i).Select(l => l[i].Text)).ToList();
    }

    public void Dispose()
    {
        if (scorer.IsValueCreated) scorer.Value.Dispose();
        if (pipeline.IsValueCreated) pipeline.Value.Dispose();
    }
}
