using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// diffusers' <c>BasicTransformerBlock</c> (layer_norm type): pre-norm self-attention (attn1),
/// cross-attention on the text (attn2) and a GEGLU feed-forward, each added to the residual stream.
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly Attention attn1;
    private readonly LayerNorm norm2;
    private readonly Attention attn2;
    private readonly LayerNorm norm3;
    private readonly FeedForward ff;

    public BasicTransformerBlock(long dim, long heads, long headDim, long crossAttentionDim, bool upcastAttention,
        double dropout = 0.0) : base(nameof(BasicTransformerBlock))
    {
        norm1 = nn.LayerNorm(dim, eps: 1e-5);
        attn1 = new Attention(dim, null, heads, headDim, bias: false, upcastAttention, dropout);
        norm2 = nn.LayerNorm(dim, eps: 1e-5);
        attn2 = new Attention(dim, crossAttentionDim, heads, headDim, bias: false, upcastAttention, dropout);
        norm3 = nn.LayerNorm(dim, eps: 1e-5);
        ff = new FeedForward(dim, dropout);
        RegisterComponents();
    }

    /// <param name="x">[B, N, D] image tokens</param>
    /// <param name="context">[B, T, Cctx] text encoder states</param>
    /// <returns>[B, N, D]</returns>
    public override Tensor forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        x = x + attn1.forward(norm1.forward(x), null);      // self-attention over the N positions
        x = x + attn2.forward(norm2.forward(x), context);   // cross-attention on the T text tokens
        x = x + ff.forward(norm3.forward(x));
        return x.MoveToOuterDisposeScope();
    }
}
