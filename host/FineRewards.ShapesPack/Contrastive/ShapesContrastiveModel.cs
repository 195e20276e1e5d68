using System.Text.Json.Serialization;
using FineRewards.Diffusion.Nn;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.ShapesPack.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Contrastive;

/// <summary>The contrastive model's config.json: image tower, the CLIP text tower's own config, the shared embedding width.</summary>
public sealed record ShapesContrastiveConfig(
    [property: JsonPropertyName("vision")] ConvEncoderConfig Vision,
    [property: JsonPropertyName("vision_pool_channels")] int VisionPoolChannels,
    [property: JsonPropertyName("vision_hidden")] int VisionHidden,
    [property: JsonPropertyName("text_config")] ClipTextConfig Text,
    [property: JsonPropertyName("projection_dim")] int ProjectionDim,
    [property: JsonPropertyName("logit_scale_init_value")] double LogitScaleInit)
{
    /// <param name="vocabSize">Size of the pack's own CLIP-format vocabulary.</param>
    public static ShapesContrastiveConfig Default(int vocabSize, int bosId, int eosId) => new(
        ConvEncoderConfig.Small, VisionPoolChannels: 32, VisionHidden: 128,
        new ClipTextConfig
        {
            VocabSize = vocabSize, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
            MaxPositionEmbeddings = 24, HiddenAct = "quick_gelu", PadTokenId = eosId, BosTokenId = bosId, EosTokenId = eosId,
        },
        ProjectionDim: 64, LogitScaleInit: Math.Log(1 / 0.07));
}

/// <summary>
/// A CLIP in miniature: a CNN image tower whose 8x8 map is flattened (so where things are survives the
/// pooling) and projected, and the project's CLIPTextModel as text tower with a text projection;
/// both embeddings unit length, similarity scaled by a learned temperature (logit_scale, as CLIP).
/// </summary>
public sealed class ShapesContrastiveModel : nn.Module
{
    readonly ConvEncoder vision_model;
    readonly Conv2d vision_pool;
    readonly GroupNorm vision_pool_norm;
    readonly Linear vision_fc, visual_projection;
    public readonly ClipTextModel text_model;
    readonly Linear text_projection;
    public readonly Parameter logit_scale;

    public ShapesContrastiveConfig Config { get; }

    public ShapesContrastiveModel(ShapesContrastiveConfig config) : base(nameof(ShapesContrastiveModel))
    {
        Config = config;
        vision_model = new ConvEncoder(config.Vision);
        vision_pool = nn.Conv2d(config.Vision.OutChannels, config.VisionPoolChannels, 1);
        vision_pool_norm = Norms.GroupNorm(8, config.VisionPoolChannels);
        int flat = config.VisionPoolChannels * config.Vision.OutSize * config.Vision.OutSize;
        vision_fc = nn.Linear(flat, config.VisionHidden);
        visual_projection = nn.Linear(config.VisionHidden, config.ProjectionDim, hasBias: false);
        text_model = new ClipTextModel(config.Text);
        text_projection = nn.Linear(config.Text.HiddenSize, config.ProjectionDim, hasBias: false);
        logit_scale = nn.Parameter(tensor((float)config.LogitScaleInit));
        using (no_grad())
            foreach (var (name, p) in text_model.named_parameters())
                if (name.EndsWith("embedding.weight", StringComparison.Ordinal)) p.normal_(0, 0.02);
        RegisterComponents();
    }

    /// <summary>[B, 3, 64, 64] in 0..1 -> unit vectors [B, E].</summary>
    public Tensor EncodeImages(Tensor images)
    {
        using var scope = NewDisposeScope();
        var f = vision_model.forward(images);                                      // [B, C, 8, 8]
        var p = F.silu(vision_pool_norm.forward(vision_pool.forward(f))).flatten(1); // [B, 32*8*8]
        var e = visual_projection.call(F.silu(vision_fc.call(p)));                 // [B, E]
        return F.normalize(e, dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>input_ids [B, L] -> unit vectors [B, E] (pooled at the first EOS, as CLIP).</summary>
    public Tensor EncodeTexts(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        using var output = text_model.forward(inputIds);
        var e = text_projection.call(output.PooledOutput);                         // [B, E]
        return F.normalize(e, dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>exp(logit_scale), capped at 100 as CLIP does.</summary>
    public Tensor Scale() { using var e = logit_scale.exp(); return e.ClampMax(100); }
}
