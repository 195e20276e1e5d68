using System.Text.Json.Serialization;
using FineRewards.Contracts;
using FineRewards.Core;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// diffusers' <c>UNet2DConditionModel</c> config, field for field as its config.json spells it
/// (defaults are diffusers' defaults). Only the Stable Diffusion 1.x/2.x subset is supported;
/// <see cref="Validate"/> rejects the rest instead of silently building another network.
/// </summary>
public sealed record UNet2DConditionConfig
{
    /// <summary>diffusers' model class; when present it must be UNet2DConditionModel.</summary>
    [JsonPropertyName("_class_name")] public string? ClassName { get; init; }
    [JsonPropertyName("sample_size")] public int? SampleSize { get; init; }
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 4;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 4;
    [JsonPropertyName("center_input_sample")] public bool CenterInputSample { get; init; }
    [JsonPropertyName("flip_sin_to_cos")] public bool FlipSinToCos { get; init; } = true;
    [JsonPropertyName("freq_shift")] public int FreqShift { get; init; }

    [JsonPropertyName("down_block_types")]
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    [JsonPropertyName("mid_block_type")] public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    [JsonPropertyName("up_block_types")]
    public string[] UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
    [JsonPropertyName("only_cross_attention")] public bool OnlyCrossAttention { get; init; }

    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    [JsonPropertyName("layers_per_block"), JsonConverter(typeof(IntOrListConverter))]
    public int[] LayersPerBlock { get; init; } = [2];
    [JsonPropertyName("downsample_padding")] public int DownsamplePadding { get; init; } = 1;
    [JsonPropertyName("mid_block_scale_factor")] public double MidBlockScaleFactor { get; init; } = 1.0;
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("norm_eps")] public double NormEps { get; init; } = 1e-5;

    [JsonPropertyName("cross_attention_dim"), JsonConverter(typeof(IntOrListConverter))]
    public int[] CrossAttentionDim { get; init; } = [1280];
    [JsonPropertyName("transformer_layers_per_block"), JsonConverter(typeof(IntOrListConverter))]
    public int[] TransformerLayersPerBlock { get; init; } = [1];
    /// <summary>
    /// Despite the name, diffusers uses this as the NUMBER OF HEADS of every transformer when
    /// <see cref="NumAttentionHeads"/> is null (a naming mistake it keeps for compatibility).
    /// </summary>
    [JsonPropertyName("attention_head_dim"), JsonConverter(typeof(IntOrListConverter))]
    public int[] AttentionHeadDim { get; init; } = [8];
    [JsonPropertyName("num_attention_heads"), JsonConverter(typeof(IntOrListConverter))]
    public int[]? NumAttentionHeads { get; init; }
    [JsonPropertyName("use_linear_projection")] public bool UseLinearProjection { get; init; }
    /// <summary>Computes the attention scores in float32 (SD 2.1 overflows in float16 otherwise).</summary>
    [JsonPropertyName("upcast_attention")] public bool UpcastAttention { get; init; }
    [JsonPropertyName("dual_cross_attention")] public bool DualCrossAttention { get; init; }
    [JsonPropertyName("attention_type")] public string AttentionType { get; init; } = "default";

    [JsonPropertyName("resnet_time_scale_shift")] public string ResnetTimeScaleShift { get; init; } = "default";
    [JsonPropertyName("resnet_skip_time_act")] public bool ResnetSkipTimeAct { get; init; }
    [JsonPropertyName("resnet_out_scale_factor")] public double ResnetOutScaleFactor { get; init; } = 1.0;
    [JsonPropertyName("time_embedding_type")] public string TimeEmbeddingType { get; init; } = "positional";
    [JsonPropertyName("time_embedding_dim")] public int? TimeEmbeddingDim { get; init; }
    [JsonPropertyName("time_embedding_act_fn")] public string? TimeEmbeddingActFn { get; init; }
    [JsonPropertyName("timestep_post_act")] public string? TimestepPostAct { get; init; }
    [JsonPropertyName("time_cond_proj_dim")] public int? TimeCondProjDim { get; init; }
    [JsonPropertyName("conv_in_kernel")] public int ConvInKernel { get; init; } = 3;
    [JsonPropertyName("conv_out_kernel")] public int ConvOutKernel { get; init; } = 3;

    [JsonPropertyName("class_embed_type")] public string? ClassEmbedType { get; init; }
    [JsonPropertyName("num_class_embeds")] public int? NumClassEmbeds { get; init; }
    [JsonPropertyName("addition_embed_type")] public string? AdditionEmbedType { get; init; }
    [JsonPropertyName("encoder_hid_dim")] public int? EncoderHidDim { get; init; }
    [JsonPropertyName("cross_attention_norm")] public string? CrossAttentionNorm { get; init; }

    /// <summary>Stable Diffusion v1.5 (runwayml/stable-diffusion-v1-5 unet/config.json).</summary>
    public static UNet2DConditionConfig Sd15 { get; } = new() { SampleSize = 64, CrossAttentionDim = [768] };

    /// <summary>Stable Diffusion v2.1 (stabilityai/stable-diffusion-2-1 unet/config.json).</summary>
    public static UNet2DConditionConfig Sd21 { get; } = new()
    {
        SampleSize = 96,
        CrossAttentionDim = [1024],
        AttentionHeadDim = [5, 10, 20, 20],
        UseLinearProjection = true,
        UpcastAttention = true,
    };

    public static UNet2DConditionConfig FromJson(string json, string source = "unet config.json")
        => ConfigJson.Parse<UNet2DConditionConfig>(json, source).Validate(source);

    public static UNet2DConditionConfig FromFile(string path)
        => ConfigJson.ParseFile<UNet2DConditionConfig>(path).Validate(path);

    public int Blocks => BlockOutChannels.Length;

    /// <summary>Heads of the transformers of down block <paramref name="block"/> (the mid block uses the last).</summary>
    public int HeadsOf(int block) => ConfigJson.PerBlock(NumAttentionHeads ?? AttentionHeadDim, block);

    public int CrossAttentionDimOf(int block) => ConfigJson.PerBlock(CrossAttentionDim, block);
    public int LayersOf(int block) => ConfigJson.PerBlock(LayersPerBlock, block);
    public int TransformerLayersOf(int block) => ConfigJson.PerBlock(TransformerLayersPerBlock, block);

    /// <summary>Throws an <see cref="InputException"/> for anything this port does not build.</summary>
    public UNet2DConditionConfig Validate(string source = "unet config")
    {
        void Require(bool ok, string field, string message)
        {
            if (!ok) throw new InputException($"{source}: {field}", message);
        }
        Require(ClassName is null or "UNet2DConditionModel", "_class_name", $"is '{ClassName}', not a UNet2DConditionModel config");
        int n = BlockOutChannels.Length;
        Require(n >= 1, "block_out_channels", "needs at least one block");
        Require(BlockOutChannels.All(c => c > 0 && c % NormNumGroups == 0), "block_out_channels",
            $"every entry must be a positive multiple of norm_num_groups {NormNumGroups}");
        Require(DownBlockTypes.Length == n, "down_block_types", $"needs one entry per block_out_channels entry ({n})");
        Require(UpBlockTypes.Length == n, "up_block_types", $"needs one entry per block_out_channels entry ({n})");
        foreach (var t in DownBlockTypes)
            Require(t is "CrossAttnDownBlock2D" or "DownBlock2D", "down_block_types", $"'{t}' is not supported (CrossAttnDownBlock2D, DownBlock2D)");
        foreach (var t in UpBlockTypes)
            Require(t is "CrossAttnUpBlock2D" or "UpBlock2D", "up_block_types", $"'{t}' is not supported (CrossAttnUpBlock2D, UpBlock2D)");
        Require(MidBlockType == "UNetMidBlock2DCrossAttn", "mid_block_type", $"'{MidBlockType}' is not supported (UNetMidBlock2DCrossAttn)");
        foreach (var (field, values) in new[] { ("layers_per_block", LayersPerBlock), ("cross_attention_dim", CrossAttentionDim),
                     ("transformer_layers_per_block", TransformerLayersPerBlock), ("attention_head_dim", AttentionHeadDim) })
            Require(values.Length == 1 || values.Length == n, field, $"must be one number or a list of {n}");
        if (NumAttentionHeads is not null)
            Require(NumAttentionHeads.Length == 1 || NumAttentionHeads.Length == n, "num_attention_heads", $"must be one number or a list of {n}");
        for (int i = 0; i < n; i++)
            Require(BlockOutChannels[i] % HeadsOf(i) == 0, "attention_head_dim",
                $"block {i}: {BlockOutChannels[i]} channels do not split into {HeadsOf(i)} heads");
        Require(ActFn == "silu", "act_fn", $"'{ActFn}' is not supported (silu)");
        Require(TimeEmbeddingType == "positional", "time_embedding_type", $"'{TimeEmbeddingType}' is not supported (positional)");
        Require(ResnetTimeScaleShift == "default", "resnet_time_scale_shift", $"'{ResnetTimeScaleShift}' is not supported (default)");
        Require(AttentionType == "default", "attention_type", $"'{AttentionType}' is not supported (default)");
        Require(!OnlyCrossAttention && !DualCrossAttention, "only_cross_attention", "only_cross_attention and dual_cross_attention are not supported");
        Require(ClassEmbedType is null && NumClassEmbeds is null, "class_embed_type", "class embeddings are not supported");
        Require(AdditionEmbedType is null && EncoderHidDim is null, "addition_embed_type", "added (SDXL-style) embeddings are not supported");
        Require(TimeCondProjDim is null && TimeEmbeddingDim is null && TimeEmbeddingActFn is null && TimestepPostAct is null,
            "time_embedding_dim", "only the default time embedding is supported");
        Require(!ResnetSkipTimeAct && ResnetOutScaleFactor == 1.0 && CrossAttentionNorm is null, "resnet_skip_time_act",
            "resnet_skip_time_act, resnet_out_scale_factor and cross_attention_norm must keep their defaults");
        Require(ConvInKernel % 2 == 1 && ConvOutKernel % 2 == 1, "conv_in_kernel", "kernels must be odd");
        return this;
    }
}
