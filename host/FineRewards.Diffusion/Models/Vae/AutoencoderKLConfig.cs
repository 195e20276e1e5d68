using System.Text.Json.Serialization;
using FineRewards.Contracts;
using FineRewards.Core;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>diffusers' <c>AutoencoderKL</c> config as its config.json spells it (defaults are diffusers').</summary>
public sealed record AutoencoderKLConfig
{
    /// <summary>diffusers' model class; when present it must be AutoencoderKL.</summary>
    [JsonPropertyName("_class_name")] public string? ClassName { get; init; }
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;
    [JsonPropertyName("down_block_types")] public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D"];
    [JsonPropertyName("up_block_types")] public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D"];
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = [64];
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 1;
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 4;
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("sample_size")] public int SampleSize { get; init; } = 32;
    /// <summary>Latents are multiplied by this before the UNet sees them and divided by it before decoding (the caller's job).</summary>
    [JsonPropertyName("scaling_factor")] public double ScalingFactor { get; init; } = 0.18215;
    [JsonPropertyName("force_upcast")] public bool ForceUpcast { get; init; } = true;
    // Later diffusers versions can drop these parts; the SD VAEs have them all.
    [JsonPropertyName("mid_block_add_attention")] public bool MidBlockAddAttention { get; init; } = true;
    [JsonPropertyName("use_quant_conv")] public bool UseQuantConv { get; init; } = true;
    [JsonPropertyName("use_post_quant_conv")] public bool UsePostQuantConv { get; init; } = true;

    /// <summary>The Stable Diffusion 1.x/2.x VAE (e.g. stabilityai/sd-vae-ft-mse, the SD 1.5 and 2.1 vae/config.json).</summary>
    public static AutoencoderKLConfig SdVae { get; } = new()
    {
        BlockOutChannels = [128, 256, 512, 512],
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
        LayersPerBlock = 2,
        SampleSize = 512,
    };

    public static AutoencoderKLConfig FromJson(string json, string source = "vae config.json")
        => ConfigJson.Parse<AutoencoderKLConfig>(json, source).Validate(source);

    public static AutoencoderKLConfig FromFile(string path)
        => ConfigJson.ParseFile<AutoencoderKLConfig>(path).Validate(path);

    /// <summary>Image pixels per latent pixel along each side (8 for SD).</summary>
    public int DownsampleFactor => 1 << (BlockOutChannels.Length - 1);

    public AutoencoderKLConfig Validate(string source = "vae config")
    {
        void Require(bool ok, string field, string message)
        {
            if (!ok) throw new InputException($"{source}: {field}", message);
        }
        Require(ClassName is null or "AutoencoderKL", "_class_name", $"is '{ClassName}', not an AutoencoderKL config");
        Require(MidBlockAddAttention && UseQuantConv && UsePostQuantConv, "use_quant_conv",
            "mid_block_add_attention, use_quant_conv and use_post_quant_conv must be true (the SD VAE layout)");
        int n = BlockOutChannels.Length;
        Require(n >= 1, "block_out_channels", "needs at least one block");
        Require(BlockOutChannels.All(c => c > 0 && c % NormNumGroups == 0), "block_out_channels",
            $"every entry must be a positive multiple of norm_num_groups {NormNumGroups}");
        Require(DownBlockTypes.Length == n && DownBlockTypes.All(t => t == "DownEncoderBlock2D"), "down_block_types",
            $"needs {n} entries, all DownEncoderBlock2D");
        Require(UpBlockTypes.Length == n && UpBlockTypes.All(t => t == "UpDecoderBlock2D"), "up_block_types",
            $"needs {n} entries, all UpDecoderBlock2D");
        Require(ActFn == "silu", "act_fn", $"'{ActFn}' is not supported (silu)");
        Require(LayersPerBlock >= 1, "layers_per_block", "must be at least 1");
        Require(LatentChannels >= 1 && InChannels >= 1 && OutChannels >= 1, "latent_channels", "channel counts must be positive");
        Require(ScalingFactor > 0, "scaling_factor", "must be positive");
        return this;
    }
}
