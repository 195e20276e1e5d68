using FineRewards.Diffusion.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.TextEncoder;

// Port of transformers' CLIPTextModel (modeling_clip.py, v4.37): pre-LN transformer with a causal mask.
// Field names are the checkpoint's module names, so state_dict keys equal transformers' keys.
// B = batch, L = sequence length (77), D = hidden_size, H = heads, d = head_dim.

/// <summary>Outputs of <see cref="ClipTextModel"/>. Owns its tensors.</summary>
public sealed class ClipTextOutput(Tensor lastHiddenState, Tensor pooledOutput, IReadOnlyList<Tensor> hiddenStates) : IDisposable
{
    /// <summary>final_layer_norm(hidden_states[^1]) [B, L, D]: SD 1.x conditioning.</summary>
    public Tensor LastHiddenState { get; } = lastHiddenState;
    /// <summary>last_hidden_state at the EOS position of each row [B, D].</summary>
    public Tensor PooledOutput { get; } = pooledOutput;
    /// <summary>[0] = embeddings, [i] = output of layer i (before final_layer_norm), each [B, L, D].</summary>
    public IReadOnlyList<Tensor> HiddenStates { get; } = hiddenStates;

    public void Dispose()
    {
        LastHiddenState.Dispose();
        PooledOutput.Dispose();
        foreach (var h in HiddenStates) h.Dispose();
    }
}

public sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly Embedding token_embedding;
    readonly Embedding position_embedding;

    public ClipTextEmbeddings(ClipTextConfig config, Device? device = null) : base("embeddings")
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds)
    {
        // input_ids [B, L] -> [B, L, D]; positions 0..L-1 broadcast over the batch.
        using var positions = arange(inputIds.shape[1], dtype: ScalarType.Int64, device: inputIds.device);
        using var tokens = token_embedding.forward(inputIds);
        using var pos = position_embedding.forward(positions);
        return tokens + pos;
    }
}

public sealed class ClipAttention : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear k_proj, v_proj, q_proj, out_proj;   // transformers' declaration order = state_dict order
    readonly int _heads, _headDim;
    readonly double _scale;

    public ClipAttention(ClipTextConfig config, Device? device = null) : base("self_attn")
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _scale = Math.Pow(_headDim, -0.5);
        k_proj = nn.Linear(config.HiddenSize, config.HiddenSize, device: device);
        v_proj = nn.Linear(config.HiddenSize, config.HiddenSize, device: device);
        q_proj = nn.Linear(config.HiddenSize, config.HiddenSize, device: device);
        out_proj = nn.Linear(config.HiddenSize, config.HiddenSize, device: device);
        RegisterComponents();
    }

    /// <param name="x">[B, L, D]</param>
    /// <param name="mask">additive [1, 1, L, L] (0 or dtype min)</param>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        // Scaling q before Q·Kᵀ as transformers does (not after): keeps the rounding of the reference.
        var q = SplitHeads(q_proj.call(x) * _scale, b, l);            // [B, H, L, d]
        var k = SplitHeads(k_proj.call(x), b, l);                       // [B, H, L, d]
        var v = SplitHeads(v_proj.call(x), b, l);                       // [B, H, L, d]
        var weights = matmul(q, k.transpose(-1, -2)) + mask;              // [B, H, L, L]
        weights = weights.softmax(-1);
        var o = matmul(weights, v)                                         // [B, H, L, d]
            .transpose(1, 2).reshape(b, l, _heads * _headDim);             // [B, L, D]
        return out_proj.call(o).MoveToOuterDisposeScope();
    }

    Tensor SplitHeads(Tensor t, long b, long l) => t.view(b, l, _heads, _headDim).transpose(1, 2);
}

public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2;
    readonly bool _quickGelu;

    public ClipMlp(ClipTextConfig config, Device? device = null) : base("mlp")
    {
        _quickGelu = config.HiddenAct == "quick_gelu";
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, device: device);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = fc1.call(x);                                            // [B, L, 4D]
        // quick_gelu = x·σ(1.702x), the approximation OpenAI CLIP was trained with; gelu = exact erf form.
        h = _quickGelu ? h * sigmoid(h * 1.702) : nn.functional.gelu(h);
        return fc2.call(h).MoveToOuterDisposeScope();                          // [B, L, D]
    }
}

public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ClipAttention self_attn;
    readonly LayerNorm layer_norm1;
    readonly ClipMlp mlp;
    readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipTextConfig config, Device? device = null) : base("layer")
    {
        self_attn = new ClipAttention(config, device);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        mlp = new ClipMlp(config, device);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        // Pre-LN: the residual stream is never normalised, only each branch's input.
        x = x + self_attn.forward(layer_norm1.forward(x), mask);          // [B, L, D]
        x = x + mlp.forward(layer_norm2.forward(x));                       // [B, L, D]
        return x.MoveToOuterDisposeScope();
    }
}

public sealed class ClipEncoder : nn.Module
{
    public readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipTextConfig config, Device? device = null) : base("encoder")
    {
        layers = new ModuleList<ClipEncoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new ClipEncoderLayer(config, device)).ToArray());
        RegisterComponents();
    }
}

public sealed class ClipTextTransformer : nn.Module
{
    public readonly ClipTextEmbeddings embeddings;
    public readonly ClipEncoder encoder;
    public readonly LayerNorm final_layer_norm;

    public ClipTextTransformer(ClipTextConfig config, Device? device = null) : base("text_model")
    {
        embeddings = new ClipTextEmbeddings(config, device);
        encoder = new ClipEncoder(config, device);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        RegisterComponents();
    }
}

/// <summary>
/// transformers' CLIPTextModel. Forward: input_ids [B, L] int64 -> last_hidden_state, pooled output and
/// all hidden states (for clip skip: <see cref="FinalLayerNorm"/> of <c>HiddenStates[^2]</c> is SD 2.x's
/// "penultimate" conditioning). No attention_mask: Stable Diffusion never passes one.
/// </summary>
public sealed class ClipTextModel : nn.Module<Tensor, ClipTextOutput>
{
    /// <summary>A legacy buffer (persistent before transformers 4.31) found in older SD 1.x text encoders.</summary>
    public const string LegacyPositionIdsKey = "text_model.embeddings.position_ids";

    public readonly ClipTextTransformer text_model;

    public ClipTextConfig Config { get; }

    /// <param name="device">Where the parameters live; <c>new Device(DeviceType.META)</c> builds the shapes without memory.</param>
    public ClipTextModel(ClipTextConfig config, Device? device = null) : base(nameof(ClipTextModel))
    {
        config.Validate("ClipTextConfig");
        Config = config;
        text_model = new ClipTextTransformer(config, device);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers <c>text_encoder/</c> folder: config.json + model.safetensors (fp16 weights become fp32).</summary>
    public static ClipTextModel FromPretrained(string folder, Device? device = null)
    {
        var config = ClipTextConfig.FromJsonFile(Path.Combine(folder, "config.json"));
        var weights = Path.Combine(folder, "model.safetensors");
        if (!File.Exists(weights))
        {
            var fp16 = Path.Combine(folder, "model.fp16.safetensors");
            if (File.Exists(fp16)) weights = fp16;
        }
        var model = new ClipTextModel(config);
        model.LoadWeights(weights);
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>Loads a CLIPTextModel .safetensors state dict (strict; the legacy position_ids buffer is ignored).</summary>
    public void LoadWeights(string path) =>
        StateDictLoader.LoadFile(this, path, ignore: new HashSet<string> { LegacyPositionIdsKey });

    public Tensor FinalLayerNorm(Tensor hidden) => text_model.final_layer_norm.forward(hidden);

    public override ClipTextOutput forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], l = inputIds.shape[1];
        if (l > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"input_ids has {l} tokens, more than max_position_embeddings {Config.MaxPositionEmbeddings}");

        var h = text_model.embeddings.forward(inputIds);                  // [B, L, D]
        var hiddenStates = new List<Tensor> { h };
        var dtype = h.dtype;
        // Causal mask: position i sees positions <= i. Filled with the dtype's min, as transformers does.
        var mask = full(l, l, torch.finfo(dtype).min, dtype: dtype, device: h.device)
            .triu(1).view(1, 1, l, l);                                    // [1, 1, L, L]
        foreach (var layer in text_model.encoder.layers)
        {
            h = layer.forward(h, mask);                                    // [B, L, D]
            hiddenStates.Add(h);
        }
        var last = text_model.final_layer_norm.forward(h);                // [B, L, D]

        var pooled = last[arange(b, device: h.device), EosIndex(inputIds)];  // [B, D]

        return new ClipTextOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(),
            hiddenStates.Select(t => t.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>Index of the pooled (EOS) position of each row, as <see cref="forward"/> uses it.</summary>
    public long[] PooledIndex(Tensor inputIds)
    {
        using var index = EosIndex(inputIds);
        return index.data<long>().ToArray();
    }

    // The published configs carry the legacy eos_token_id 2, for which transformers takes the position
    // of the highest id (EOS 49407 is the largest id; argmax returns its first occurrence). Newer configs
    // name the real EOS id, and the first position holding it is used.
    Tensor EosIndex(Tensor inputIds)                                        // [B, L] -> [B] int64
    {
        using var scope = NewDisposeScope();
        var index = Config.EosTokenId == 2
            ? inputIds.to(ScalarType.Int32).argmax(-1)
            : (inputIds == Config.EosTokenId).to(ScalarType.Int32).argmax(-1);
        return index.to(ScalarType.Int64).MoveToOuterDisposeScope();
    }
}
