using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Training;
using FineRewards.Host.Scoring;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.ShapesPack;

namespace FineRewards.Host.Packs;

/// <summary>
/// The built-in Shapes pack: the diffusion model of packs/shapes/diffusion through the same
/// StableDiffusionPipeline and LoraTrainer as real checkpoints, the rewards on the pack's reader models
/// (as `score` builds them), the Shapes grammar as prompt check and the world's ground truth.
/// Models load on first use, so `train --help`, a bad prompts file or a missing pack cost nothing.
/// </summary>
public sealed class ShapesModelPack : IModelPack
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
        scorer = new(() => new ShapesScorer(this.RequireReady().Folder, new ScoringSetup(ScoringSetup.Known)));
        rewards = new PackRewards(ShapesPackInfo.Name, ScoringSetup.Known, () => scorer.Value.Rewards);
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

    public string Name => ShapesPackInfo.Name;

    public PackStatus Check() => status.Ready ? status : status with
    {
        Fix = $"put the built-in pack's folder (packs/{ShapesPackInfo.Name} of the source tree) next to the executable or under ${PackLocator.EnvironmentVariable}; " +
              $"`finerewards pack verify {ShapesPackInfo.Name}` checks its files",
    };

    public PackCapabilities Capabilities { get; } = new(ScoringSetup.Known, ShapesPackInfo.DefaultRewards, SchedulerFactory.Names, ShapesPackInfo.ExamplePrompt);
    /// <summary>What the pack was evaluated with at training time (docs/shapes-pack.md), at the world's canvas size.</summary>
    public GenerationSettings DefaultGeneration { get; } = new(Sampler: "ddim", Steps: 20, Guidance: 4.0,
        Width: FineRewards.Shapes.World.Scene.Canvas, Height: FineRewards.Shapes.World.Scene.Canvas);
    public IReadOnlyList<string> ProbePrompts { get; } = ValidationProbes();
    public IImageGenerator? Generator => pipeline.Value;
    public ILoraTrainer? Trainer => trainer.Value;
    public IGroundTruth? GroundTruth { get; } = new ShapesGroundTruth();

    public IReward CreateReward(string name) => rewards.Get(name);

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
