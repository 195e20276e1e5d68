using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Diffusion.Models;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.TextEncoder;

namespace FineRewards.Diffusion.Checkpoints;

/// <summary>SD 1.x (CLIP ViT-L text encoder) or SD 2.x (OpenCLIP ViT-H, penultimate layer).</summary>
public enum SdFamily { Sd1, Sd2 }

/// <summary>A config value the tensors do not determine, taken from convention (or from the user's config).</summary>
public sealed record AssumedField(string Field, string Value, string Why);

/// <summary>
/// What a single-file checkpoint is, read from its tensor names and shapes alone: the family and the
/// three models' configs. Everything the shapes determine is read from them (channels, block widths,
/// layers per block, which blocks attend, transformer depth, cross-attention width, linear or conv
/// projections, text encoder width, depth and vocabulary). What they cannot tell (attention heads,
/// GroupNorm groups, native size, VAE scaling, prediction type) follows the family's published configs
/// and is listed in <see cref="Assumed"/>; a config override replaces it.
/// </summary>
public sealed record SingleFileArchitecture(
    SdFamily Family,
    UNet2DConditionConfig Unet,
    AutoencoderKLConfig Vae,
    ClipTextConfig TextEncoder,
    string PredictionType,
    IReadOnlyList<AssumedField> Assumed)
{
    public string FamilyName => Family == SdFamily.Sd1 ? "sd1 (CLIP ViT-L text encoder)" : "sd2 (OpenCLIP text encoder, penultimate layer)";
    public int LayersPerBlock => Unet.LayersOf(0);
    public int VaeBlocks => Vae.BlockOutChannels.Length;
    /// <summary>OpenCLIP blocks the model keeps (the file has one more); unused for SD 1.x.</summary>
    public int OpenClipLayers => TextEncoder.NumHiddenLayers;

    /// <summary>Names the family of a header, or throws an <see cref="InputException"/> saying what the file is instead.</summary>
    public static SdFamily DetectFamily(IReadOnlyDictionary<string, long[]> shapes, string path)
    {
        bool Any(string prefix) => shapes.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
        bool AnyContains(string part) => shapes.Keys.Any(k => k.Contains(part, StringComparison.Ordinal));
        string expected = "expected a Stable Diffusion 1.x/2.x single-file checkpoint (model.diffusion_model.*, first_stage_model.*, cond_stage_model.*)";
        if (shapes.Count == 0) throw new InputException(path, $"holds no tensors; {expected}");
        if (Any("lora_unet_") || Any("lora_te") || AnyContains(".lora_down.") || AnyContains(".lora_A.") || AnyContains(".lora_up."))
            throw new InputException(path, $"is a LoRA adapter, not a checkpoint (pass it with --lora); {expected}");
        if (Any("conditioner.embedders.") || Any(SingleFileKeys.UnetPrefix + "label_emb."))
            throw new InputException(path, $"is an SDXL checkpoint (conditioner.embedders / label_emb), which this engine does not run; {expected}");
        if (Any(SingleFileKeys.UnetPrefix + "joint_blocks.") || Any("text_encoders."))
            throw new InputException(path, $"is a Stable Diffusion 3 checkpoint (MMDiT joint_blocks), which this engine does not run; {expected}");
        if (Any("double_blocks.") || Any(SingleFileKeys.UnetPrefix + "double_blocks."))
            throw new InputException(path, $"is a Flux checkpoint, which this engine does not run; {expected}");
        if (Any("down_blocks.") || Any("text_model."))
            throw new InputException(path, $"is a diffusers or transformers component file; load its whole diffusers folder instead, or {expected}");
        if (!shapes.ContainsKey(SingleFileKeys.UnetPrefix + "input_blocks.0.0.weight"))
            throw new InputException(path, $"has no UNet (model.diffusion_model.input_blocks.0.0.weight); {expected}");
        if (!Any(SingleFileKeys.VaePrefix))
            throw new InputException(path, $"has no VAE (first_stage_model.*); {expected}");
        if (Any(SingleFileKeys.ClipPrefix + "text_model.")) return SdFamily.Sd1;
        if (Any(SingleFileKeys.OpenClipPrefix + "transformer.resblocks.")) return SdFamily.Sd2;
        throw new InputException(path, $"has no text encoder (cond_stage_model.transformer.text_model.* or cond_stage_model.model.transformer.*); {expected}");
    }

    /// <summary>Infers the architecture from tensor shapes; <paramref name="overrides"/> replaces the assumed (and only the assumed) values.</summary>
    /// <exception cref="InputException">The shapes do not form an SD 1.x/2.x model, or an override contradicts them; names the file.</exception>
    public static SingleFileArchitecture Infer(IReadOnlyDictionary<string, long[]> shapes, string path, SingleFileConfig? overrides = null)
    {
        var family = DetectFamily(shapes, path);
        var assumed = new List<AssumedField>();
        long[] Shape(string key) => shapes.TryGetValue(key, out var s) ? s
            : throw new InputException(path, $"tensor {key} is missing; the other tensors look like an SD {(family == SdFamily.Sd1 ? "1.x" : "2.x")} checkpoint, which has it");

        // --- UNet ---
        const string u = SingleFileKeys.UnetPrefix;
        var convIn = Shape(u + "input_blocks.0.0.weight");                                  // [C0, in, k, k]
        var convOut = Shape(u + "out.2.weight");                                             // [out, C0, k, k]
        var inputIndices = Indices(shapes, u + "input_blocks.");
        int downsamplers = inputIndices.Count(n => shapes.ContainsKey($"{u}input_blocks.{n}.0.op.weight"));
        int blocks = downsamplers + 1;
        int entries = inputIndices.Max();                                                    // entries after conv_in
        if ((entries - downsamplers) % blocks != 0 || (entries - downsamplers) / blocks < 1)
            throw new InputException(path, $"UNet input_blocks 1..{entries} with {downsamplers} downsamplers do not split into {blocks} blocks of equal depth");
        int layers = (entries - downsamplers) / blocks;
        var channels = new int[blocks];
        var down = new string[blocks];
        var up = new string[blocks];
        var transformerLayers = new int[blocks];
        for (int i = 0; i < blocks; i++)
        {
            string first = $"{u}input_blocks.{1 + i * (layers + 1)}";
            channels[i] = (int)Shape(first + ".0.out_layers.3.weight")[0];
            bool attends = shapes.ContainsKey(first + ".1.norm.weight");
            down[i] = attends ? "CrossAttnDownBlock2D" : "DownBlock2D";
            transformerLayers[i] = attends ? Indices(shapes, first + ".1.transformer_blocks.").Count : 1;
            up[i] = shapes.ContainsKey($"{u}output_blocks.{i * (layers + 1)}.1.norm.weight") ? "CrossAttnUpBlock2D" : "UpBlock2D";
        }
        var midProjIn = Shape(u + "middle_block.1.proj_in.weight");
        int crossDim = (int)Shape(u + "middle_block.1.transformer_blocks.0.attn2.to_k.weight")[1];
        var unetInferred = new JsonObject
        {
            ["in_channels"] = convIn[1],
            ["out_channels"] = convOut[0],
            ["block_out_channels"] = Array(channels),
            ["layers_per_block"] = layers,
            ["down_block_types"] = new JsonArray(down.Select(t => (JsonNode)t).ToArray()),
            ["up_block_types"] = new JsonArray(up.Select(t => (JsonNode)t).ToArray()),
            ["cross_attention_dim"] = crossDim,
            ["transformer_layers_per_block"] = transformerLayers.Distinct().Count() == 1 ? transformerLayers[0] : Array(transformerLayers),
            ["use_linear_projection"] = midProjIn.Length == 2,
            ["conv_in_kernel"] = convIn[2],
            ["conv_out_kernel"] = convOut[2],
        };
        // Not in the tensors: SD 1.x has 8 heads everywhere, SD 2.x 64-channel heads (diffusers writes
        // both as attention_head_dim); both use 32 groups and compute attention upcast in 2.x.
        var unetAssumed = new JsonObject
        {
            ["attention_head_dim"] = family == SdFamily.Sd1 ? Fit(8, channels) : Array(channels.Select(c => Math.Max(1, c / 64)).ToArray()),
            ["norm_num_groups"] = Fit(32, channels),
            ["sample_size"] = family == SdFamily.Sd1 ? 64 : 96,
            ["upcast_attention"] = family == SdFamily.Sd2,
        };

        // --- VAE ---
        const string v = SingleFileKeys.VaePrefix;
        var vaeIn = Shape(v + "encoder.conv_in.weight");                                     // [C0, in, 3, 3]
        var vaeLevels = Indices(shapes, v + "encoder.down.");
        var vaeChannels = vaeLevels.Select(i => (int)Shape($"{v}encoder.down.{i}.block.0.conv2.weight")[0]).ToArray();
        int vaeLayers = Indices(shapes, v + "encoder.down.0.block.").Count;
        var vaeInferred = new JsonObject
        {
            ["in_channels"] = vaeIn[1],
            ["out_channels"] = Shape(v + "decoder.conv_out.weight")[0],
            ["block_out_channels"] = Array(vaeChannels),
            ["down_block_types"] = new JsonArray(vaeChannels.Select(_ => (JsonNode)"DownEncoderBlock2D").ToArray()),
            ["up_block_types"] = new JsonArray(vaeChannels.Select(_ => (JsonNode)"UpDecoderBlock2D").ToArray()),
            ["layers_per_block"] = vaeLayers,
            ["latent_channels"] = Shape(v + "post_quant_conv.weight")[0],
        };
        var vaeAssumed = new JsonObject
        {
            ["norm_num_groups"] = Fit(32, vaeChannels),
            ["sample_size"] = family == SdFamily.Sd1 ? 512 : 768,
            ["scaling_factor"] = 0.18215,
        };

        // --- text encoder ---
        JsonObject textInferred;
        if (family == SdFamily.Sd1)
        {
            const string t = SingleFileKeys.ClipPrefix + "text_model.";
            var tokens = Shape(t + "embeddings.token_embedding.weight");                     // [V, D]
            textInferred = new JsonObject
            {
                ["vocab_size"] = tokens[0],
                ["hidden_size"] = tokens[1],
                ["max_position_embeddings"] = Shape(t + "embeddings.position_embedding.weight")[0],
                ["num_hidden_layers"] = Indices(shapes, t + "encoder.layers.").Count,
                ["intermediate_size"] = Shape(t + "encoder.layers.0.mlp.fc1.weight")[0],
                ["hidden_act"] = "quick_gelu",
            };
        }
        else
        {
            const string t = SingleFileKeys.OpenClipPrefix;
            var tokens = Shape(t + "token_embedding.weight");                                // [V, D]
            int blocksInFile = Indices(shapes, t + "transformer.resblocks.").Count;
            // SD 2.x conditions on the penultimate block's output (final LayerNorm applied). An original
            // file holds OpenCLIP's whole tower (24 blocks and its text_projection), so the last block is
            // dropped; a file written from diffusers' text encoder holds only the kept blocks.
            bool wholeTower = shapes.ContainsKey(t + "text_projection");
            int kept = wholeTower ? blocksInFile - 1 : blocksInFile;
            if (kept < 1) throw new InputException(path, $"the OpenCLIP text encoder has {blocksInFile} block(s); SD 2.x conditions on the penultimate of at least 2");
            textInferred = new JsonObject
            {
                ["vocab_size"] = tokens[0],
                ["hidden_size"] = tokens[1],
                ["max_position_embeddings"] = Shape(t + "positional_embedding")[0],
                ["num_hidden_layers"] = kept,
                ["intermediate_size"] = Shape(t + "transformer.resblocks.0.mlp.c_fc.weight")[0],
                ["hidden_act"] = "gelu",
            };
        }
        var textAssumed = new JsonObject
        {
            ["num_attention_heads"] = Math.Max(1, (int)textInferred["hidden_size"]!.GetValue<long>() / 64),
            ["bos_token_id"] = 0, ["eos_token_id"] = 2, ["pad_token_id"] = 1,
        };

        var unet = Merge<UNet2DConditionConfig>(path, "unet", unetInferred, unetAssumed, overrides?.Unet, assumed);
        var vae = Merge<AutoencoderKLConfig>(path, "vae", vaeInferred, vaeAssumed, overrides?.Vae, assumed);
        var text = Merge<ClipTextConfig>(path, "text_encoder", textInferred, textAssumed, overrides?.TextEncoder, assumed);
        string prediction = overrides?.PredictionType ?? "epsilon";
        if (overrides?.PredictionType is null)
            assumed.Add(new AssumedField("prediction_type", prediction, "not stored in single files; SD 2.x 768-v models need v_prediction"));
        if (prediction is not ("epsilon" or "v_prediction"))
            throw new InputException("prediction_type", $"expected epsilon or v_prediction, got \"{prediction}\"");
        return new SingleFileArchitecture(family, unet, vae, text, prediction, assumed);
    }

    /// <summary>
    /// Inferred values, then assumed ones, then the user's; a user value that contradicts the tensors is
    /// an error naming the field. Each component's own Validate runs on the result.
    /// </summary>
    static T Merge<T>(string path, string component, JsonObject inferred, JsonObject assumedValues, JsonObject? user, List<AssumedField> assumed)
    {
        var merged = new JsonObject();
        foreach (var (k, value) in inferred) merged[k] = value?.DeepClone();
        foreach (var (k, value) in assumedValues)
        {
            if (user is not null && user.ContainsKey(k)) continue;
            merged[k] = value?.DeepClone();
            assumed.Add(new AssumedField($"{component}.{k}", value?.ToJsonString() ?? "null", "not determined by tensor shapes"));
        }
        foreach (var (k, value) in user ?? [])
        {
            if (k.StartsWith('_')) continue;   // _class_name, _diffusers_version
            if (inferred.TryGetPropertyValue(k, out var fromTensors) && !SameValue(fromTensors, value))
                throw new InputException(path, $"config {component}.{k} = {value?.ToJsonString()} contradicts the checkpoint's tensors, which give {fromTensors?.ToJsonString()}");
            merged[k] = value?.DeepClone();
        }
        string source = $"{path} ({component}, inferred)";
        var config = ConfigJson.Parse<T>(merged.ToJsonString(), source);
        switch (config)
        {
            case UNet2DConditionConfig c: c.Validate(source); break;
            case AutoencoderKLConfig c: c.Validate(source); break;
            case ClipTextConfig c: c.Validate(source); break;
        }
        return config;
    }

    /// <summary>JSON equality where a one-element list equals its element (diffusers writes per-block values either way).</summary>
    static bool SameValue(JsonNode? a, JsonNode? b)
    {
        static JsonNode? Unwrap(JsonNode? n) => n is JsonArray { Count: 1 } one ? one[0] : n;
        a = Unwrap(a);
        b = Unwrap(b);
        if (a is JsonArray xa && b is JsonArray xb) return xa.Count == xb.Count && xa.Zip(xb).All(p => SameValue(p.First, p.Second));
        if (a is JsonValue va && b is JsonValue vb && va.TryGetValue(out double da) && vb.TryGetValue(out double db)) return da == db;
        return JsonNode.DeepEquals(a, b);
    }

    /// <summary>
    /// The conventional value where it divides every width, else the largest divisor of it that does, so
    /// a model smaller than SD (a test model) still gets a buildable guess; either way it is listed as assumed.
    /// </summary>
    static int Fit(int conventional, IEnumerable<int> widths) =>
        widths.Aggregate(conventional, (g, w) => (int)System.Numerics.BigInteger.GreatestCommonDivisor(g, w));

    static JsonArray Array(IEnumerable<int> values) => new(values.Select(x => (JsonNode)x).ToArray());

    /// <summary>The distinct integers right after <paramref name="prefix"/> in the keys ("…blocks.3.x" → 3), sorted.</summary>
    static List<int> Indices(IReadOnlyDictionary<string, long[]> shapes, string prefix) =>
        shapes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Select(k => k[prefix.Length..].Split('.')[0])
            .Select(s => int.TryParse(s, out int n) ? n : -1).Where(n => n >= 0).Distinct().Order().ToList();
}

/// <summary>
/// What the user (or a pack's pack.json) says about a single file beyond its tensors: diffusers-style
/// "unet" / "vae" objects and a transformers-style "text_encoder" object (any subset of their config.json
/// fields), and "prediction_type". Only values the tensors do not determine may differ from them.
/// </summary>
public sealed record SingleFileConfig(string? PredictionType = null, JsonObject? Unet = null, JsonObject? Vae = null, JsonObject? TextEncoder = null)
{
    public static SingleFileConfig FromJson(JsonObject? root, string source)
    {
        if (root is null) return new SingleFileConfig();
        JsonObject? Part(string name) => root[name] switch
        {
            null => null,
            JsonObject o => o,
            var other => throw new InputException($"{source}: {name}", $"expected a JSON object, found {other.ToJsonString()}"),
        };
        string? prediction = root["prediction_type"] switch
        {
            null => null,
            JsonValue value when value.TryGetValue(out string? s) => s,
            var other => throw new InputException($"{source}: prediction_type", $"expected \"epsilon\" or \"v_prediction\", found {other.ToJsonString()}"),
        };
        if (prediction is not (null or "epsilon" or "v_prediction"))
            throw new InputException($"{source}: prediction_type", $"expected \"epsilon\" or \"v_prediction\", found \"{prediction}\"");
        return new SingleFileConfig(prediction, Part("unet"), Part("vae"), Part("text_encoder"));
    }

    public static SingleFileConfig FromJsonElement(JsonElement? element, string source) =>
        element is { ValueKind: JsonValueKind.Object } e ? FromJson(JsonNode.Parse(e.GetRawText())!.AsObject(), source) : new SingleFileConfig();
}
