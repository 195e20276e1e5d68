using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>
/// The Shapes pack's latent diffusion model: Stable Diffusion's architecture (AutoencoderKL,
/// CLIPTextModel, UNet2DConditionModel, DDIM) on the same classes, scaled down for 64x64 images
/// and a closed vocabulary so it trains on two CPU cores in about an hour.
/// </summary>
public static class ShapesDiffusionConfig
{
    /// <summary>Token positions: BOS + the longest prompt (10 words) + EOS, rounded up.</summary>
    public const int MaxTokens = 16;

    /// <summary>
    /// 64x64x3 to 16x16x4 (two downsamplings): the spec measured that the UNet is 3-4x cheaper per
    /// sample on a 16x16x4 latent than on 32x32 pixels, as long as the round trip stays exact
    /// enough for the evaluator (the VAE trainer measures that). scaling_factor is set after training
    /// to 1/std of the latents, as SD's 0.18215 was.
    /// </summary>
    public static AutoencoderKLConfig Vae(double scalingFactor = 1.0) => new()
    {
        ClassName = "AutoencoderKL",
        InChannels = 3,
        OutChannels = 3,
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
        BlockOutChannels = [16, 32, 64],
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 16,
        SampleSize = Scene.Canvas,
        ScalingFactor = scalingFactor,
        ForceUpcast = false,
    };

    /// <summary>
    /// A 2-layer, 64-wide CLIP text transformer over the BPE vocabulary of the prompt grammar
    /// (every grammar word is one token), 16 positions. SD 1.x conventions otherwise: quick_gelu,
    /// padding with EOS, the real EOS id for pooling.
    /// </summary>
    public static ClipTextConfig TextEncoder(int vocabSize, int bosId, int eosId) => new()
    {
        VocabSize = vocabSize,
        HiddenSize = 64,
        IntermediateSize = 256,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        MaxPositionEmbeddings = MaxTokens,
        HiddenAct = "quick_gelu",
        PadTokenId = eosId,
        BosTokenId = bosId,
        EosTokenId = eosId,
    };

    /// <summary>
    /// A three-level UNet on the 16x16x4 latent (16, 8, 4), cross-attention to the text encoder at
    /// 16x16 and 8x8 and in the mid block, one resnet per level. Small on purpose: on a shared 2-core
    /// machine the number of training steps limits quality more than capacity does.
    /// </summary>
    public static UNet2DConditionConfig UNet(int crossAttentionDim = 64) => new()
    {
        ClassName = "UNet2DConditionModel",
        SampleSize = Scene.Canvas / 4,
        InChannels = 4,
        OutChannels = 4,
        DownBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        UpBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        BlockOutChannels = [32, 64, 64],
        LayersPerBlock = [1],
        NormNumGroups = 16,
        CrossAttentionDim = [crossAttentionDim],
        AttentionHeadDim = [4],
    };

    /// <summary>
    /// v-prediction (the spec's calibration run used it): at the noisiest timesteps an ε-model's x₀
    /// estimate is ε-error amplified by 1/√ᾱ, which on a tiny model gives washed-out layouts; v
    /// keeps the target's scale even across timesteps. SD's scaled_linear betas; "trailing" spacing
    /// so sampling starts at t = 999, the noisiest step seen in training.
    /// </summary>
    public static SchedulerConfig Scheduler() => new()
    {
        PredictionType = "v_prediction",
        BetaSchedule = "scaled_linear",
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        NumTrainTimesteps = 1000,
        TimestepSpacing = "trailing",
        SetAlphaToOne = false,
        StepsOffset = 1,
        ClipSample = false,
    };

    /// <summary>Every word the prompt grammar can produce (all catalogue prompts and every caption word), with counts.</summary>
    public static IReadOnlyDictionary<string, int> GrammarWords()
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        void Add(string text)
        {
            foreach (var w in text.Split(' ', StringSplitOptions.RemoveEmptyEntries)) counts[w] = counts.GetValueOrDefault(w) + 1;
        }
        foreach (var p in PromptCatalog.All()) Add(p.Text);
        // Captions of scenes with more objects (composite) add words prompts never use ("and" lists, counts up to four).
        foreach (var c in Palette.Colors)
            foreach (var s in Palette.Shapes)
            {
                Add(c.Word()); Add(s.Word()); Add(s.Plural());
            }
        foreach (var n in PromptWords.NumberWords) Add(n);
        foreach (var r in PromptWords.Relations) Add(r.Words());
        Add("a and");
        return counts;
    }

    /// <summary>Builds the vocabulary and writes vocab.json + merges.txt into <paramref name="folder"/>.</summary>
    public static void WriteTokenizerFiles(string folder)
    {
        var (vocab, merges) = ClipVocabularyBuilder.Train(GrammarWords());
        ClipVocabularyBuilder.WriteFiles(folder, vocab, merges);
    }
}
