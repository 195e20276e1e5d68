using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Training;
using FineRewards.Cli.Scoring;

namespace FineRewards.Cli.Packs;

/// <summary>
/// A user's Stable Diffusion pack (`pack create sd`): the checkpoint of component "diffusion" (single file or
/// diffusers folder) through StableDiffusionPipeline and LoraTrainer, and the ONNX reward models of its other
/// components (<see cref="OnnxPack"/>): clip (CLIP), sam (SAM + CLIP labels + the judge), aesthetic (LAION head on
/// CLIP), caption (captioner + MiniLM), with the GGUF judge when the pack has one (else the lexical judge).
/// A reward is offered only when the components it needs are declared. No ground truth, any prompt. A pack of
/// reward models alone (no "diffusion" component) scores images but has no generator or trainer.
/// </summary>
public sealed class SdModelPack : IModelPack
{
    readonly OnnxPack components;
    readonly Lazy<StableDiffusionPipeline> pipeline;
    readonly Lazy<LoraTrainer> trainer;
    readonly Lazy<GenerationSettings> nativeGeneration;
    readonly Lazy<OnnxPackScorer> scorer;
    readonly PackRewards rewards;
    readonly Func<ILabelJudge>? lexical;
    readonly bool generates;

    /// <param name="lexical">The judge "lexical" names, for a pack without a GGUF judge (the composition root gives it); null: none.</param>
    public SdModelPack(string folder, PackManifest manifest, Func<ILabelJudge>? lexical = null)
    {
        components = new OnnxPack(Path.GetFullPath(folder), manifest);
        this.lexical = lexical;
        generates = components.Component("diffusion") is not null;
        // Generating needs the checkpoint alone; a missing reward model stops only the rewards (and the host, which serves both).
        pipeline = new(() => SdPack.LoadPipeline(components.Folder, PipelineOptions.Default));
        trainer = new(() => new LoraTrainer(pipeline.Value));
        nativeGeneration = new(() => { int side = SdPack.NativeSide(components.Folder); return new GenerationSettings(Width: side, Height: side); });
        Capabilities = new PackCapabilities(OfferedRewards(components), Samplers: SchedulerFactory.Names);
        scorer = new(() =>
        {
            this.RequireReady();
            return new OnnxPackScorer(components, Capabilities.Rewards!, RewardOptions.PackDefault, lexical);
        });
        rewards = new PackRewards(Name, Capabilities.Rewards!, () => scorer.Value.Rewards);
    }

    /// <summary>A pack folder whose "diffusion" component is a Stable Diffusion checkpoint, or that declares ONNX reward models; else null.</summary>
    public static IModelPack? Open(string folder, PackManifest manifest, Func<ILabelJudge>? lexical = null) =>
        SdPack.IsSdManifest(manifest) || OnnxPack.Declares(manifest) ? new SdModelPack(folder, manifest, lexical) : null;

    /// <summary>The components each reward needs, for the message that refuses a reward the pack does not offer.</summary>
    static readonly IReadOnlyDictionary<string, string[]> Needs = new Dictionary<string, string[]>
    {
        ["clip"] = ["clip"], ["sam"] = ["clip", "sam"], ["caption"] = ["captioner"], ["aesthetic"] = ["clip", "aesthetic"],
    };

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
        if (components.All().FirstOrDefault(c => c.Name == "diffusion") is { Exists: false } diffusion) problems.Add($"diffusion ({diffusion.Kind}): missing {diffusion.Path}");
        problems.AddRange(components.Problems());
        return problems.Count == 0 ? status : status with
        {
            Problems = problems,
            Fix = $"put the files back, or point {components.ManifestPath} at them (`finerewards pack create sd --checkpoint FILE|DIR " +
                  "[--clip DIR] [--sam DIR] [--captioner DIR] [--detector DIR] [--judge FILE.gguf] --out NEW_FOLDER` writes a new pack); `finerewards doctor` lists each part",
        };
    }

    public PackCapabilities Capabilities { get; }

    /// <summary>The checkpoint's native size, read from its headers (a submit does not wait for the weights); the usual sampler, steps and guidance.</summary>
    public GenerationSettings DefaultGeneration => generates ? nativeGeneration.Value : new GenerationSettings();

    public IReadOnlyList<string> ProbePrompts => [];
    public IImageGenerator? Generator => generates ? pipeline.Value : null;
    public ILoraTrainer? Trainer => generates ? trainer.Value : null;
    public IGroundTruth? GroundTruth => null;

    public IReward CreateReward(string name) => rewards.Get(name);

    /// <summary>Models of their own for `score`'s judge, embedder, seed and coverage; a reward the pack lacks is refused with the component it needs.
    /// Only the reward models are needed (a missing checkpoint does not stop scoring); their missing files are named by the scorer.</summary>
    public RewardSet OpenRewards(IReadOnlyList<string> names, RewardOptions options)
    {
        foreach (string name in names)
            if (!this.RewardNames().Contains(name) && Needs.TryGetValue(name, out var needed))
                throw new InputException("--rewards", $"reward \"{name}\" needs the pack's {string.Join(" and ", needed.Where(n => components.Component(n) is null).Select(n => $"\"{n}\""))} " +
                                                      $"component in {components.ManifestPath}; it has: {string.Join(", ", this.RewardNames())}");
        return new OnnxPackScorer(components, this.CheckRewardNames(names), options, lexical);
    }

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
