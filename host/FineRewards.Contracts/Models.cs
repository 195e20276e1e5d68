namespace FineRewards.Contracts;

// The contracts between the domain and the model engines. The host composes them; each engine
// (TorchSharp diffusion, ONNX reward models, LLamaSharp judge, the built-in Shapes pack)
// implements the ones it can. Batch methods take all K candidates of a prompt at once so an
// engine can run them as one batch.

/// <summary>Turns images into captions (BLIP-2 in the paper).</summary>
public interface ICaptioner
{
    string Name { get; }
    IReadOnlyList<string> Caption(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default);
}

/// <summary>Finds labelled regions in images (Grounded-SAM in the paper).</summary>
public interface ISegmenter
{
    string Name { get; }
    IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default);
}

/// <summary>
/// A segmenter whose labels depend on the prompt (zero-shot labelling over the prompt's nouns and a tag list).
/// The segment reward passes the prompt when its segmenter is one.
/// </summary>
public interface IPromptedSegmenter : ISegmenter
{
    IReadOnlyList<IReadOnlyList<Segment>> Segment(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default);
}

/// <summary>Decides, for each label, whether it belongs to the scene a prompt describes (Vicuna in the paper).</summary>
public interface ILabelJudge
{
    string Name { get; }
    /// <summary>Changes whenever the same question could get a different answer (model hash, template version).</summary>
    string Version { get; }
    /// <returns>One verdict per label, in the order given.</returns>
    IReadOnlyList<Verdict> Judge(string prompt, IReadOnlyList<string> labels, CancellationToken cancellationToken = default);
}

/// <summary>Maps texts to unit-length vectors whose dot product is their cosine similarity.</summary>
public interface ITextEmbedder
{
    string Name { get; }
    int Dimension { get; }
    IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken = default);
}

/// <summary>A model that puts images and texts in one vector space (CLIP): CLIPScore, the aesthetic head and zero-shot segment labels use it.</summary>
public interface IImageTextEmbedder
{
    string Name { get; }
    int Dimension { get; }
    IReadOnlyList<float[]> EmbedImages(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default);
    IReadOnlyList<float[]> EmbedTexts(IReadOnlyList<string> texts, CancellationToken cancellationToken = default);
}

/// <summary>What a reward saw, so a user can tell why a score is what it is.</summary>
/// <param name="Caption">The caption the score compared with the prompt, where there is one.</param>
/// <param name="Segments">Every segment with its verdict, where the reward segments the image.</param>
/// <param name="Flags">Conditions a user should know about, e.g. "no-segments".</param>
/// <param name="Details">Other facts (model names, hashes, seeds).</param>
/// <param name="Relations">Each spatial relation of the prompt with the segments and boxes it was checked on and its verdict,
/// where the reward checks relations (sam_relation).</param>
public sealed record RewardEvidence(
    string? Caption = null,
    IReadOnlyList<JudgedSegment>? Segments = null,
    IReadOnlyList<string>? Flags = null,
    IReadOnlyDictionary<string, string>? Details = null,
    IReadOnlyList<JudgedRelation>? Relations = null);

public sealed record RewardScore(string Reward, double Score, RewardEvidence Evidence);

/// <summary>A reward function: higher is better.</summary>
public interface IReward
{
    string Name { get; }
    string Version { get; }
    /// <returns>One score per image, in order.</returns>
    IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default);
}

/// <summary>A LoRA adapter to apply while generating.</summary>
public sealed record LoraReference(string Path, double Scale = 1.0);

public enum SeedPolicy { Fixed, Random, Increment }

/// <summary>
/// The one set of generation defaults: what a request that leaves a setting out gets, in the engine,
/// the host's job specs, the packs' settings and the plugin's panel alike. A pack may prefer others
/// (its <c>GenerationSettings</c>), which the host and the CLI then apply.
/// </summary>
public static class GenerationDefaults
{
    public const string Sampler = "ddim";
    public const int Steps = 25;
    public const double Guidance = 7.5;
    /// <summary>Width and height in pixels (the Shapes pack's canvas).</summary>
    public const int Size = 64;
}

/// <summary>Best-of-K generation of one prompt. Candidate i uses seed BaseSeed + i.</summary>
public sealed record GenerationRequest(
    string Prompt,
    int K,
    long BaseSeed,
    string NegativePrompt = "",
    string Sampler = GenerationDefaults.Sampler,
    int Steps = GenerationDefaults.Steps,
    double Guidance = GenerationDefaults.Guidance,
    int Width = GenerationDefaults.Size,
    int Height = GenerationDefaults.Size,
    IReadOnlyList<LoraReference>? Loras = null);

/// <summary>
/// A candidate's final sampler latents, before the VAE decodes them, scaled as the UNet sees them
/// (times the VAE's scaling factor): what the image was decoded from, so training can learn the
/// candidate exactly instead of a lossy re-encoding of its PNG.
/// </summary>
/// <param name="Data">Row-major values of a [C, h, w] tensor.</param>
public sealed record CandidateLatents(float[] Data, int Channels, int Height, int Width)
{
    public static CandidateLatents Create(float[] data, int channels, int height, int width) =>
        data.Length == channels * height * width ? new(data, channels, height, width)
            : throw new ArgumentException($"{data.Length} values for latents of shape [{channels}, {height}, {width}]", nameof(data));
}

/// <summary>One generated candidate and everything needed to regenerate it.</summary>
/// <param name="Latents">The final latents the image was decoded from, where the generator has them.</param>
public sealed record GeneratedCandidate(int Index, long Seed, RgbImage Image, IReadOnlyDictionary<string, string> Provenance,
    CandidateLatents? Latents = null);

public sealed record GenerationProgress(int Step, int Steps, int CandidatesDone, int Candidates);

/// <summary>A text-to-image model (Stable Diffusion, or the Shapes pack on the same classes).</summary>
public interface IImageGenerator
{
    string Name { get; }
    IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>An image and the prompt it should be learned for.</summary>
/// <param name="Latents">The image's exact latents when the model generated it; the trainer encodes only pairs without them.</param>
/// <param name="Rejected">For the preference objective: an image of the same prompt the ranking put last, to be made less likely than <paramref name="Image"/>.</param>
public sealed record TrainingPair(string Prompt, RgbImage Image, CandidateLatents? Latents = null, TrainingImage? Rejected = null);

/// <summary>An image, with its exact latents when the model generated it.</summary>
public sealed record TrainingImage(RgbImage Image, CandidateLatents? Latents = null);

/// <summary>What a LoRA round optimises.</summary>
public static class LoraObjectives
{
    /// <summary>RAFT: the denoising loss on the kept images (supervised fine-tuning on the best of K).</summary>
    public const string Raft = "raft";
    /// <summary>Diffusion-DPO: the kept image's denoising error falls relative to the rejected one's, both measured against the
    /// frozen base model. What the model's own images share (its colours, edges, habits) cancels between the two; what is left is
    /// what the ranking told them apart by.</summary>
    public const string Dpo = "dpo";
    public static readonly IReadOnlyList<string> All = [Raft, Dpo];
}

/// <param name="PromptDropout">Fraction of training samples whose prompt is replaced by the empty prompt, as in the base
/// model's own training: keeps the unconditional branch that classifier-free guidance subtracts in step with the conditional one.</param>
/// <param name="LearningRateSchedule">"constant", or "cosine" (decays to 0 over the steps).</param>
/// <param name="Targets">Which layers get adapters: one of <see cref="LoraTargets.All"/>.</param>
/// <param name="MinTimestep">Train only at noise levels t >= this fraction of the schedule's T (0: every timestep). The
/// model's own images carry its colour and edge errors in the fine detail that the low-noise timesteps learn, while
/// what a reward corrects (which objects, how many, where) is decided at high noise.</param>
/// <param name="Objective">One of <see cref="LoraObjectives.All"/>; "dpo" needs every pair's <see cref="TrainingPair.Rejected"/>.</param>
/// <param name="DpoBeta">How sharply the preference objective saturates: the larger, the smaller the departure from the base model it settles for.</param>
public sealed record LoraTrainingOptions(int Rank = 4, double Alpha = 4, double LearningRate = 9e-6, int Steps = 100, int BatchSize = 1, long Seed = 1234,
    double PromptDropout = 0, string LearningRateSchedule = "constant", string Targets = LoraTargets.Attention, double MinTimestep = 0,
    string Objective = LoraObjectives.Raft, double DpoBeta = 2000)
{
    public static readonly IReadOnlyList<string> Schedules = ["constant", "cosine"];

    /// <summary>The learning rate of 0-based <paramref name="step"/>.</summary>
    public double LearningRateAt(int step) => LearningRateSchedule switch
    {
        "cosine" => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / Steps)),
        _ => LearningRate,
    };
}

/// <summary>
/// The layer sets a trained LoRA can reach (docs/training.md#which-layers-the-lora-reaches). The UNet
/// sets never include conv_in, conv_out or the time embedding: those act on every prompt alike
/// (the latent's first and last map, the noise level), and kohya's LoCon leaves them out too.
/// </summary>
public static class LoraTargets
{
    /// <summary>to_q, to_k, to_v, to_out.0 of every attention layer (the paper's reference).</summary>
    public const string Attention = "attention";
    /// <summary>The attention projections and the transformer feed-forward layers (ff.net.0.proj, ff.net.2).</summary>
    public const string AttentionFeedForward = "attention+ff";
    /// <summary>Every Linear and Conv2d of the UNet's down, mid and up blocks (LoCon): resnet convs, their time
    /// projections and shortcuts, down/upsampler convs, transformer proj_in/proj_out, attention and feed-forward.</summary>
    public const string UNet = "unet";
    /// <summary><see cref="UNet"/> plus every Linear layer of the text encoder (trained through the encoder each step).</summary>
    public const string UNetText = "unet+text";

    public static readonly IReadOnlyList<string> All = [Attention, AttentionFeedForward, UNet, UNetText];
}

public sealed record TrainingProgress(int Step, int Steps, double Loss);

/// <summary>Fine-tunes a LoRA adapter on image-prompt pairs (RAFT) and saves it.</summary>
public interface ILoraTrainer
{
    /// <returns>The path of the saved adapter.</returns>
    string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default);
}
