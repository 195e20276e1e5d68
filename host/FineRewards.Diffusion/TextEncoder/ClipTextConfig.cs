using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;
using FineRewards.Core;

namespace FineRewards.Diffusion.TextEncoder;

/// <summary>
/// transformers' CLIPTextConfig: the fields of a text encoder's config.json that the model uses
/// (other keys such as projection_dim or torch_dtype are ignored).
/// </summary>
public sealed record ClipTextConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 49408;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 512;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 2048;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 8;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 77;
    /// <summary>"quick_gelu" (OpenAI CLIP) or "gelu" (OpenCLIP, SD 2.x).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "quick_gelu";
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-5;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 1;
    [JsonPropertyName("bos_token_id")] public int BosTokenId { get; init; } = 49406;
    /// <summary>2 is the legacy value of the published configs and selects argmax pooling (see the model).</summary>
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 49407;

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>openai/clip-vit-large-patch14 text tower, the SD 1.x text encoder (123,060,480 parameters).</summary>
    public static ClipTextConfig VitL14 { get; } = new()
    {
        HiddenSize = 768, IntermediateSize = 3072, NumHiddenLayers = 12, NumAttentionHeads = 12,
        HiddenAct = "quick_gelu", PadTokenId = 1, BosTokenId = 0, EosTokenId = 2,
    };

    /// <summary>
    /// OpenCLIP ViT-H/14 text tower as SD 2.x ships it in CLIPTextModel form: gelu, 1024 wide, 16 heads,
    /// 23 layers (the 24th is dropped because SD 2.x conditions on the penultimate layer).
    /// </summary>
    public static ClipTextConfig OpenClipVitH { get; } = new()
    {
        HiddenSize = 1024, IntermediateSize = 4096, NumHiddenLayers = 23, NumAttentionHeads = 16,
        HiddenAct = "gelu", PadTokenId = 1, BosTokenId = 0, EosTokenId = 2,
    };

    /// <summary>A few-thousand-parameter model for tests: the config of the clip_text_tiny reference fixture.</summary>
    public static ClipTextConfig Tiny() => new()
    {
        VocabSize = 1000, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        HiddenAct = "quick_gelu", PadTokenId = 1, BosTokenId = 0, EosTokenId = 2,
    };

    /// <summary>Reads an HF config.json (a CLIPTextConfig; a full CLIPConfig's "text_config" is also accepted).</summary>
    public static ClipTextConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "text encoder config.json not found");
        ClipTextConfig? config;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text_config", out var text)) root = text;
            config = root.Deserialize<ClipTextConfig>();
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not a CLIPTextConfig ({e.Message})");
        }
        if (config is null) throw new InputException(path, "expected a JSON object");
        config.Validate(path);
        return config;
    }

    public void Validate(string source)
    {
        if (HiddenAct is not ("quick_gelu" or "gelu"))
            throw new InputException($"{source}: hidden_act", $"expected \"quick_gelu\" or \"gelu\", found \"{HiddenAct}\"");
        if (NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            throw new InputException($"{source}: num_attention_heads",
                $"hidden_size {HiddenSize} must be a multiple of num_attention_heads {NumAttentionHeads}");
        if (VocabSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || MaxPositionEmbeddings <= 0)
            throw new InputException(source, "vocab_size, intermediate_size, num_hidden_layers and max_position_embeddings must be positive");
    }
}
