using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Nn;

/// <summary>Multi-head attention with separate q/k/v/out projections (names as in transformers' checkpoints).</summary>
public sealed class MultiHeadAttention : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear q_proj, k_proj, v_proj, out_proj;
    readonly int _heads;
    readonly bool _causal;

    public MultiHeadAttention(int dim, int heads, bool causal) : base(nameof(MultiHeadAttention))
    {
        if (dim % heads != 0) throw new ArgumentException($"dim {dim} is not a multiple of heads {heads}");
        _heads = heads;
        _causal = causal;
        q_proj = nn.Linear(dim, dim);
        k_proj = nn.Linear(dim, dim);
        v_proj = nn.Linear(dim, dim);
        out_proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    /// <param name="x">queries [B, L, D]</param>
    /// <param name="context">keys and values [B, S, D] (x itself for self-attention)</param>
    public override Tensor forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], s = context.shape[1], d = x.shape[2];
        var q = q_proj.call(x).view(b, l, _heads, d / _heads).transpose(1, 2);        // [B, H, L, d]
        var k = k_proj.call(context).view(b, s, _heads, d / _heads).transpose(1, 2);  // [B, H, S, d]
        var v = v_proj.call(context).view(b, s, _heads, d / _heads).transpose(1, 2);  // [B, H, S, d]
        var o = F.scaled_dot_product_attention(q, k, v, is_casual: _causal);          // [B, H, L, d]
        return out_proj.call(o.transpose(1, 2).reshape(b, l, d)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-LN transformer decoder block: causal self-attention, cross-attention to the image, MLP.</summary>
public sealed class DecoderBlock : nn.Module<Tensor, Tensor, Tensor>
{
    readonly LayerNorm norm1, norm2, norm3;
    readonly MultiHeadAttention self_attn, cross_attn;
    readonly Linear fc1, fc2;

    public DecoderBlock(int dim, int heads, int mlpDim) : base(nameof(DecoderBlock))
    {
        norm1 = nn.LayerNorm(dim);
        self_attn = new MultiHeadAttention(dim, heads, causal: true);
        norm2 = nn.LayerNorm(dim);
        cross_attn = new MultiHeadAttention(dim, heads, causal: false);
        norm3 = nn.LayerNorm(dim);
        fc1 = nn.Linear(dim, mlpDim);
        fc2 = nn.Linear(mlpDim, dim);
        RegisterComponents();
    }

    /// <param name="x">[B, L, D] token states</param>
    /// <param name="image">[B, S, D] image tokens</param>
    public override Tensor forward(Tensor x, Tensor image)
    {
        using var scope = NewDisposeScope();
        var h = norm1.forward(x);
        x = x + self_attn.forward(h, h);
        x = x + cross_attn.forward(norm2.forward(x), image);
        x = x + fc2.call(F.gelu(fc1.call(norm3.forward(x))));
        return x.MoveToOuterDisposeScope();
    }
}
