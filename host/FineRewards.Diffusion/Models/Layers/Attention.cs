using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Attention</c> with the classic processor: multi-head softmax(q kᵀ / √d) v.
/// Self-attention when no context is given, cross-attention otherwise. The VAE variant adds a
/// GroupNorm in front and the residual at the end and works on [B, C, H, W] maps.
/// <para>
/// The four projections (<c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>) are plain
/// <see cref="Linear"/> modules invoked with <c>call</c>, so LoRA adapters
/// (<see cref="Lora.LoraAdapter"/>) attach to them as forward hooks without replacing modules.
/// </para>
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly GroupNorm? group_norm;
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;   // [0] Linear, [1] Dropout (diffusers' layout)

    public long Heads { get; }
    public long HeadDim { get; }
    public bool UpcastAttention { get; }
    public bool ResidualConnection { get; }

    /// <param name="queryDim">Channels of the attending sequence.</param>
    /// <param name="crossAttentionDim">Channels of the context; null for self-attention.</param>
    /// <param name="bias">Bias on to_q/to_k/to_v (UNet: no, VAE: yes); to_out.0 always has one.</param>
    /// <param name="upcastAttention">Compute the scores and softmax in float32 whatever the weights' dtype.</param>
    /// <param name="normGroups">Groups of the GroupNorm in front (VAE), or null for none.</param>
    public Attention(long queryDim, long? crossAttentionDim, long heads, long headDim, bool bias,
        bool upcastAttention = false, double dropout = 0.0, long? normGroups = null, double normEps = 1e-5,
        bool residualConnection = false) : base(nameof(Attention))
    {
        long inner = heads * headDim;
        long contextDim = crossAttentionDim ?? queryDim;
        if (normGroups is long g) group_norm = Norms.GroupNorm(g, queryDim, normEps);
        to_q = nn.Linear(queryDim, inner, hasBias: bias);
        to_k = nn.Linear(contextDim, inner, hasBias: bias);
        to_v = nn.Linear(contextDim, inner, hasBias: bias);
        to_out = new ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, hasBias: true), nn.Dropout(dropout));
        Heads = heads;
        HeadDim = headDim;
        UpcastAttention = upcastAttention;
        ResidualConnection = residualConnection;
        RegisterComponents();
    }

    /// <param name="hidden">[B, N, C] tokens, or [B, C, H, W] feature map (VAE)</param>
    /// <param name="context">[B, M, Cctx] for cross-attention, null for self-attention</param>
    /// <returns>same shape as <paramref name="hidden"/></returns>
    public override Tensor forward(Tensor hidden, Tensor? context)
    {
        using var scope = NewDisposeScope();
        var residual = hidden;
        bool spatial = hidden.dim() == 4;
        long b = hidden.shape[0], c = hidden.shape[1];
        long h = spatial ? hidden.shape[2] : 0, w = spatial ? hidden.shape[3] : 0;

        Tensor x;
        if (spatial)
        {
            if (group_norm is not null) hidden = group_norm.forward(hidden);   // [B, C, H, W]
            x = hidden.view(b, c, h * w).transpose(1, 2);                       // [B, N=HW, C]
        }
        else
        {
            x = group_norm is null ? hidden : group_norm.forward(hidden.transpose(1, 2)).transpose(1, 2);   // [B, N, C]
        }
        long n = x.shape[1];
        var ctx = context ?? x;                                                 // [B, M, Cctx]

        var q = SplitHeads(to_q.call(x));                                    // [B, h, N, d]
        var k = SplitHeads(to_k.call(ctx));                                  // [B, h, M, d]
        var v = SplitHeads(to_v.call(ctx));                                  // [B, h, M, d]
        var dtype = q.dtype;
        if (UpcastAttention && dtype != ScalarType.Float32)
        {
            // Half-precision scores overflow for large heads (SD 2.x); float32 keeps them finite.
            q = q.to(ScalarType.Float32);
            k = k.to(ScalarType.Float32);
            v = v.to(ScalarType.Float32);
        }
        var attended = F.scaled_dot_product_attention(q, k, v).to(dtype);      // [B, h, N, d], scale d^-0.5
        var merged = attended.transpose(1, 2).reshape(b, n, Heads * HeadDim);  // [B, N, h*d]
        var output = to_out[1].call(to_out[0].call(merged));              // [B, N, Cq]

        if (spatial) output = output.transpose(1, 2).reshape(b, c, h, w);       // [B, C, H, W]
        if (ResidualConnection) output = output + residual;
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>[B, L, h*d] -> [B, h, L, d]</summary>
    private Tensor SplitHeads(Tensor t) => t.view(t.shape[0], t.shape[1], Heads, HeadDim).transpose(1, 2);
}
