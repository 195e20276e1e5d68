using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Training;
using FineRewards.Host.Scoring;

namespace FineRewards.Host.Packs;

/// <summary>
/// A user's Stable Diffusion pack (`pack create sd`): the checkpoint of component "diffusion" (single file or
/// diffusers folder) through StableDiffusionPipeline and LoraTrainer, and the ONNX reward models of its other
/// components (<see cref="OnnxPack"/>): clip (CLIP), sam (SAM + CLIP labels + the judge), aesthetic (LAION head on
/// CLIP), caption (captioner + MiniLM), with the GGUF judge when the pack has one (else the lexical judge).
/// A reward is offered only when the components it needs are declared. No ground truth, any prompt.
/// </summary>
public sealed class SdModelPack : IModelPack
{
    readonly OnnxPack components;
    readonly Lazy<StableDiffusionPipeline> pipeline;
    readonly Lazy<LoraTrainer> trainer;
    readonly Lazy<OnnxPackScorer> scorer;
    readonly PackRewards rewards;

    public SdModelPack(string folder, PackManifest manifest)
    {
        components = new OnnxPack(Path.GetFullPath(folder), manifest);
        // Generating needs the checkpoint alone; a missing reward model stops only the rewards (and the host, which serves both).
        pipeline = new(() => SdPack.LoadPipeline(components.Folder, PipelineOptions.Default));
        trainer = new(() => new LoraTrainer(pipeline.Value));
        Capabilities = new PackCapabilities(OfferedRewards(components), Samplers: SchedulerFactory.Names);
        scorer = new(() =>
        {
            this.RequireReady();
            string judge = components.ComponentPath("judge", OnnxPack.JudgeKind) is string gguf ? "llm:" + gguf : "lexical";
            return new OnnxPackScorer(components, new ScoringSetup(Capabilities.Rewards!, judge));
        });
        rewards = new PackRewards(Name, Capabilities.Rewards!, () => scorer.Value.Rewards);
    }

    /// <summary>A pack folder whose "diffusion" component is a Stable Diffusion checkpoint, or null.</summary>
    public static IModelPack? Open(string folder, PackManifest manifest) =>
        SdPack.IsSdManifest(manifest) ? new SdModelPack(folder, manifest) : null;

    /// <summary>The rewards whose models the pack declares: each needs its own component (and CLIP for sam and aesthetic).</summary>
    static IReadOnlyList<string> OfferedRewards(PackComponents pack)
    {
        bool clip = pack.Component("clip") is not null;
        var offered = new List<string>();
        if (clip) offered.Add("clip");
        if (clip && pack.Component("sam") is not null) offered.Add("sam");
        if (pack.Component("captioner") is not null) offered.Add("caption");
        if (clip && pack.Component("aesthetic") is not null) offered.Add("aesthetic");
        offered.Add("random");
        return offered;
    }

    public string Name => components.Manifest.Name;
    public string Folder => components.Folder;

    /// <summary>pack.json's files, the checkpoint and every declared model's files, each missing one with the path looked at.</summary>
    public PackStatus Check()
    {
        var status = PackLocator.Check(components.Folder, verifyHashes: false);
        var problems = status.Problems.ToList();
        var diffusion = components.All().First(c => c.Name == "diffusion");
        if (!diffusion.Exists) problems.Add($"diffusion ({diffusion.Kind}): missing {diffusion.Path}");
        problems.AddRange(components.Problems());
        return problems.Count == 0 ? status : status with
        {
            Problems = problems,
            Fix = $"put the files back, or point {components.ManifestPath} at them (`finerewards pack create sd --checkpoint FILE|DIR " +
                  "[--clip DIR] [--sam DIR] [--captioner DIR] [--detector DIR] [--judge FILE.gguf] --out NEW_FOLDER` writes a new pack); `finerewards doctor` lists each part",
        };
    }

    public PackCapabilities Capabilities { get; }

    /// <summary>The checkpoint's native size (loads it); the pipeline's usual sampler, steps and guidance.</summary>
    public GenerationSettings DefaultGeneration
    {
        get
        {
            int side = (pipeline.Value.Unet.Config.SampleSize ?? 64) * pipeline.Value.SizeMultiple;
            return new GenerationSettings(Width: side, Height: side);
        }
    }

    public IReadOnlyList<string> ProbePrompts => [];
    public IImageGenerator? Generator => pipeline.Value;
    public ILoraTrainer? Trainer => trainer.Value;
    public IGroundTruth? GroundTruth => null;

    public IReward CreateReward(string name) => rewards.Get(name);

    /// <summary>Real checkpoints take any prompt; the CLIP tokenizer truncates what is too long.</summary>
    public void ValidatePrompt(string prompt, string field)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException(field, "empty; describe the image to generate");
    }

    public void Dispose()
    {
        if (scorer.IsValueCreated) scorer.Value.Dispose();
        if (pipeline.IsValueCreated) pipeline.Value.Dispose();
    }
}
