namespace FineRewards.Diffusion.Checkpoints;

/// <summary>The three models of a Stable Diffusion pipeline, as single files group them.</summary>
public enum SdComponent { Unet, Vae, TextEncoder }

/// <summary>
/// Where one tensor of a single file goes: a module tensor named as diffusers names it. A fused
/// OpenCLIP q/k/v projection maps to three targets, each taking <see cref="Rows"/> of dim 0.
/// </summary>
public sealed record KeyTarget(SdComponent Component, string Key, (long Start, long Length)? Rows = null);

/// <summary>
/// The single-file (original latent-diffusion, AUTOMATIC1111, ComfyUI) names of SD 1.x/2.x tensors,
/// mapped to our modules' names (the diffusers state-dict names) one key at a time. The rules are
/// the structure of the original code: <c>input_blocks</c> / <c>output_blocks</c> number resnets,
/// attentions and resamplers consecutively, the VAE decoder numbers its blocks bottom-up, and OpenCLIP
/// names its layers after GPT-2. <see cref="Map"/> returns null for a key with no place in the model.
/// </summary>
public static class SingleFileKeys
{
    public const string UnetPrefix = "model.diffusion_model.";
    public const string VaePrefix = "first_stage_model.";
    /// <summary>SD 1.x: transformers' CLIPTextModel inside the original FrozenCLIPEmbedder.</summary>
    public const string ClipPrefix = "cond_stage_model.transformer.";
    /// <summary>SD 2.x: OpenCLIP's text tower (FrozenOpenCLIPEmbedder).</summary>
    public const string OpenClipPrefix = "cond_stage_model.model.";

    /// <summary>The original code's noise-schedule buffers; generation recomputes them from the scheduler config.</summary>
    static readonly HashSet<string> ScheduleBuffers =
    [
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
        "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar",
    ];

    /// <summary>
    /// Keys real files carry that are not weights of the model: schedule buffers, EMA copies (unpruned
    /// files), transformers' legacy position_ids buffer, and OpenCLIP parts SD 2.x does not use (the
    /// last block, since it conditions on the penultimate one; the projection and logit scale).
    /// </summary>
    /// <param name="openClipLayers">The OpenCLIP blocks kept (23 for SD 2.x); blocks from this index on are ignored.</param>
    public static bool IsIgnored(string key, int openClipLayers)
    {
        if (ScheduleBuffers.Contains(key) || key.StartsWith("model_ema.", StringComparison.Ordinal)) return true;
        if (key == ClipPrefix + "text_model.embeddings.position_ids") return true;
        if (key.StartsWith(OpenClipPrefix, StringComparison.Ordinal))
        {
            string rest = key[OpenClipPrefix.Length..];
            if (rest is "text_projection" or "logit_scale" or "attn_mask") return true;
            if (rest.StartsWith("transformer.resblocks.", StringComparison.Ordinal)
                && int.TryParse(rest.Split('.')[2], out int block) && block >= openClipLayers) return true;
        }
        return false;
    }

    /// <param name="layersPerBlock">UNet resnets per down block (2 for SD); needed to number input/output blocks.</param>
    /// <param name="vaeBlocks">VAE resolution levels (4 for SD); the decoder's "up.0" is diffusers' last up block.</param>
    /// <param name="textWidth">Text encoder width, to split OpenCLIP's fused in_proj into q, k and v.</param>
    public static IReadOnlyList<KeyTarget>? Map(string key, int layersPerBlock, int vaeBlocks, long textWidth)
    {
        if (key.StartsWith(UnetPrefix, StringComparison.Ordinal))
            return One(SdComponent.Unet, Unet(key[UnetPrefix.Length..], layersPerBlock));
        if (key.StartsWith(VaePrefix, StringComparison.Ordinal))
            return One(SdComponent.Vae, Vae(key[VaePrefix.Length..], vaeBlocks));
        if (key.StartsWith(ClipPrefix, StringComparison.Ordinal))
        {
            string rest = key[ClipPrefix.Length..];
            return rest.StartsWith("text_model.", StringComparison.Ordinal) ? One(SdComponent.TextEncoder, rest) : null;
        }
        if (key.StartsWith(OpenClipPrefix, StringComparison.Ordinal))
            return OpenClip(key[OpenClipPrefix.Length..], textWidth);
        return null;
    }

    static IReadOnlyList<KeyTarget>? One(SdComponent component, string? key) => key is null ? null : [new KeyTarget(component, key)];

    static string? Unet(string key, int layers)
    {
        var parts = key.Split('.');
        string Rest(int from) => string.Join('.', parts[from..]);
        switch (parts[0])
        {
            case "time_embed" when parts.Length == 3:
                return parts[1] switch { "0" => "time_embedding.linear_1.", "2" => "time_embedding.linear_2.", _ => null } + parts[2];
            case "out" when parts.Length == 3:
                return parts[1] switch { "0" => "conv_norm_out.", "2" => "conv_out.", _ => null } + parts[2];
            case "input_blocks" when parts.Length >= 4 && int.TryParse(parts[1], out int n):
            {
                if (n == 0) return parts[2] == "0" ? "conv_in." + Rest(3) : null;
                // After conv_in each down block holds `layers` (resnet, attention) entries, then its downsampler.
                int block = (n - 1) / (layers + 1), j = (n - 1) % (layers + 1);
                if (j == layers)
                    return parts[2] == "0" && parts[3] == "op" ? $"down_blocks.{block}.downsamplers.0.conv.{Rest(4)}" : null;
                return parts[2] switch
                {
                    "0" => Resnet($"down_blocks.{block}.resnets.{j}.", Rest(3)),
                    "1" => $"down_blocks.{block}.attentions.{j}.{Rest(3)}",
                    _ => null,
                };
            }
            case "middle_block" when parts.Length >= 3:
                return parts[1] switch
                {
                    "0" => Resnet("mid_block.resnets.0.", Rest(2)),
                    "1" => "mid_block.attentions.0." + Rest(2),
                    "2" => Resnet("mid_block.resnets.1.", Rest(2)),
                    _ => null,
                };
            case "output_blocks" when parts.Length >= 4 && int.TryParse(parts[1], out int n):
            {
                // Each up block holds layers + 1 entries: resnet, then attention (if any), then the upsampler on the last.
                int block = n / (layers + 1), j = n % (layers + 1);
                if (parts[2] == "0") return Resnet($"up_blocks.{block}.resnets.{j}.", Rest(3));
                if (parts[3] == "conv") return j == layers && parts[2] is "1" or "2" ? $"up_blocks.{block}.upsamplers.0.conv.{Rest(4)}" : null;
                return parts[2] == "1" ? $"up_blocks.{block}.attentions.{j}.{Rest(3)}" : null;
            }
            default:
                return null;
        }
    }

    /// <summary>ResBlock of the UNet: (in_layers: norm, SiLU, conv), (emb_layers: SiLU, linear), (out_layers: norm, SiLU, dropout, conv).</summary>
    static string? Resnet(string prefix, string rest)
    {
        var (layer, param) = Split(rest);
        string? name = layer switch
        {
            "in_layers.0" => "norm1",
            "in_layers.2" => "conv1",
            "emb_layers.1" => "time_emb_proj",
            "out_layers.0" => "norm2",
            "out_layers.3" => "conv2",
            "skip_connection" => "conv_shortcut",
            _ => null,
        };
        return name is null ? null : prefix + name + "." + param;
    }

    static string? Vae(string key, int blocks)
    {
        var parts = key.Split('.');
        string Rest(int from) => string.Join('.', parts[from..]);
        if (parts[0] is "quant_conv" or "post_quant_conv") return key;
        if (parts[0] is not ("encoder" or "decoder") || parts.Length < 3) return null;
        string side = parts[0];
        switch (parts[1])
        {
            case "conv_in" or "conv_out":
                return key;
            case "norm_out":
                return $"{side}.conv_norm_out.{Rest(2)}";
            case "down" when side == "encoder" && parts.Length >= 5:
                if (parts[3] == "block") return VaeResnet($"encoder.down_blocks.{parts[2]}.resnets.{parts[4]}.", Rest(5));
                return parts[3] == "downsample" && parts[4] == "conv" ? $"encoder.down_blocks.{parts[2]}.downsamplers.0.conv.{Rest(5)}" : null;
            case "up" when side == "decoder" && parts.Length >= 5 && int.TryParse(parts[2], out int level):
                int block = blocks - 1 - level;   // the original decoder counts from the lowest resolution
                if (parts[3] == "block") return VaeResnet($"decoder.up_blocks.{block}.resnets.{parts[4]}.", Rest(5));
                return parts[3] == "upsample" && parts[4] == "conv" ? $"decoder.up_blocks.{block}.upsamplers.0.conv.{Rest(5)}" : null;
            case "mid":
                return parts[2] switch
                {
                    "block_1" => VaeResnet($"{side}.mid_block.resnets.0.", Rest(3)),
                    "block_2" => VaeResnet($"{side}.mid_block.resnets.1.", Rest(3)),
                    "attn_1" => parts[3] switch
                    {
                        "norm" => $"{side}.mid_block.attentions.0.group_norm.{Rest(4)}",
                        "q" => $"{side}.mid_block.attentions.0.to_q.{Rest(4)}",
                        "k" => $"{side}.mid_block.attentions.0.to_k.{Rest(4)}",
                        "v" => $"{side}.mid_block.attentions.0.to_v.{Rest(4)}",
                        "proj_out" => $"{side}.mid_block.attentions.0.to_out.0.{Rest(4)}",
                        _ => null,
                    },
                    _ => null,
                };
            default:
                return null;
        }
    }

    static string? VaeResnet(string prefix, string rest)
    {
        var (layer, param) = Split(rest);
        return layer switch
        {
            "norm1" or "conv1" or "norm2" or "conv2" => prefix + rest,
            "nin_shortcut" => prefix + "conv_shortcut." + param,
            _ => null,
        };
    }

    static IReadOnlyList<KeyTarget>? OpenClip(string key, long width)
    {
        const string layer = "text_model.encoder.layers.";
        switch (key)
        {
            case "token_embedding.weight": return One(SdComponent.TextEncoder, "text_model.embeddings.token_embedding.weight");
            case "positional_embedding": return One(SdComponent.TextEncoder, "text_model.embeddings.position_embedding.weight");
            case "ln_final.weight" or "ln_final.bias": return One(SdComponent.TextEncoder, "text_model.final_layer_norm." + key[9..]);
        }
        var parts = key.Split('.');
        if (parts.Length < 5 || parts[0] != "transformer" || parts[1] != "resblocks" || !int.TryParse(parts[2], out int i)) return null;
        string rest = string.Join('.', parts[3..]);
        if (rest is "attn.in_proj_weight" or "attn.in_proj_bias")
        {
            // OpenCLIP (torch MultiheadAttention) stores q, k and v stacked on dim 0.
            string param = rest.EndsWith("weight", StringComparison.Ordinal) ? "weight" : "bias";
            return new[] { "q", "k", "v" }.Select((p, n) => new KeyTarget(SdComponent.TextEncoder, $"{layer}{i}.self_attn.{p}_proj.{param}", (n * width, width))).ToList();
        }
        var (module, tail) = Split(rest);
        string? name = module switch
        {
            "ln_1" => "layer_norm1",
            "ln_2" => "layer_norm2",
            "mlp.c_fc" => "mlp.fc1",
            "mlp.c_proj" => "mlp.fc2",
            "attn.out_proj" => "self_attn.out_proj",
            _ => null,
        };
        return name is null ? null : One(SdComponent.TextEncoder, $"{layer}{i}.{name}.{tail}");
    }

    /// <summary>"a.b.weight" → ("a.b", "weight").</summary>
    static (string Module, string Param) Split(string key)
    {
        int dot = key.LastIndexOf('.');
        return dot < 0 ? (key, "") : (key[..dot], key[(dot + 1)..]);
    }
}
