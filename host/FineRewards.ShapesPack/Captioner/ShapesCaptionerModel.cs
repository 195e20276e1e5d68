using System.Text.Json.Serialization;
using FineRewards.ShapesPack.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Captioner;

/// <summary>The captioner's config.json.</summary>
public sealed record ShapesCaptionerConfig(
    [property: JsonPropertyName("encoder")] ConvEncoderConfig Encoder,
    [property: JsonPropertyName("dim")] int Dim,
    [property: JsonPropertyName("layers")] int Layers,
    [property: JsonPropertyName("heads")] int Heads,
    [property: JsonPropertyName("max_length")] int MaxLength,
    [property: JsonPropertyName("vocabulary")] IReadOnlyList<string> Vocabulary)
{
    /// <summary>The longest canonical caption (four different objects) is 15 words; +1 for &lt;eos&gt;, and some room.</summary>
    public static ShapesCaptionerConfig Default() => new(ConvEncoderConfig.Small, Dim: 128, Layers: 2, Heads: 4, MaxLength: 20, CaptionVocabulary.Grammar().Words);
}

/// <summary>
/// Image encoder + autoregressive transformer decoder (a BLIP-style captioner in miniature).
/// The CNN's 8x8 feature map becomes 64 image tokens with learned positions, which the decoder's
/// cross-attention reads: positions matter for "to the left of" and for the caption's reading order.
/// </summary>
public sealed class ShapesCaptionerModel : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ConvEncoder encoder;
    readonly Linear image_proj;
    readonly Parameter image_pos;
    readonly Embedding token_embedding;
    readonly Parameter token_pos;
    readonly ModuleList<DecoderBlock> blocks;
    readonly LayerNorm final_norm;
    readonly Linear lm_head;

    public ShapesCaptionerConfig Config { get; }

    public ShapesCaptionerModel(ShapesCaptionerConfig config) : base(nameof(ShapesCaptionerModel))
    {
        Config = config;
        int tokens = config.Encoder.OutSize * config.Encoder.OutSize;
        encoder = new ConvEncoder(config.Encoder);
        image_proj = nn.Linear(config.Encoder.OutChannels, config.Dim);
        image_pos = nn.Parameter(randn(tokens, config.Dim) * 0.02);
        token_embedding = nn.Embedding(config.Vocabulary.Count, config.Dim);
        token_pos = nn.Parameter(randn(config.MaxLength, config.Dim) * 0.02);
        blocks = new ModuleList<DecoderBlock>(Enumerable.Range(0, config.Layers).Select(_ => new DecoderBlock(config.Dim, config.Heads, config.Dim * 4)).ToArray());
        final_norm = nn.LayerNorm(config.Dim);
        lm_head = nn.Linear(config.Dim, config.Vocabulary.Count);
        using (no_grad()) token_embedding.weight!.normal_(0, 0.02);
        RegisterComponents();
    }

    /// <summary>[B, 3, 64, 64] -> image tokens [B, S, D].</summary>
    public Tensor EncodeImages(Tensor images)
    {
        using var scope = NewDisposeScope();
        var f = encoder.forward(images);                        // [B, C, 8, 8]
        var t = f.flatten(2).transpose(1, 2);                   // [B, 64, C]
        return (image_proj.call(t) + image_pos).MoveToOuterDisposeScope();
    }

    /// <summary>Logits [B, L, V] for input tokens [B, L] given image tokens [B, S, D].</summary>
    public Tensor Decode(Tensor imageTokens, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        long l = tokens.shape[1];
        var x = token_embedding.forward(tokens) + token_pos[..(int)l];   // [B, L, D]
        foreach (var block in blocks) x = block.forward(x, imageTokens);
        return lm_head.call(final_norm.forward(x)).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor images, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return Decode(EncodeImages(images), tokens).MoveToOuterDisposeScope();
    }

    /// <summary>Greedy decoding: token ids [B, MaxLength] (after &lt;bos&gt;), stopping when every row has written &lt;eos&gt;.</summary>
    public long[][] Greedy(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = images.shape[0];
        var imageTokens = EncodeImages(images);
        using var bos = ((long)CaptionVocabulary.BosId).ToScalar();
        var seq = full(b, 1, bos, ScalarType.Int64);
        for (int step = 0; step < Config.MaxLength - 1; step++)
        {
            var logits = Decode(imageTokens, seq);                          // [B, L, V]
            var next = logits[.., -1, ..].argmax(-1, keepdim: true);        // [B, 1]
            seq = cat([seq, next], 1);
            if (seq.Equal(CaptionVocabulary.EosId).any(1).all().item<bool>()) break;
        }
        var rows = new long[b][];
        var data = seq[.., 1..].contiguous().data<long>().ToArray();
        long width = seq.shape[1] - 1;
        for (int i = 0; i < b; i++) rows[i] = data.AsSpan((int)(i * width), (int)width).ToArray();
        return rows;
    }
}
