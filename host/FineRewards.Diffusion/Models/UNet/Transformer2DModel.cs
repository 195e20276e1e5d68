using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// diffusers' <c>Transformer2DModel</c> for continuous inputs: GroupNorm, project in, run the
/// feature map as a token sequence through the transformer blocks, project out, add the input.
/// SD1 projects with 1x1 convolutions on the map, SD2 (<c>use_linear_projection</c>) with Linear
/// layers on the tokens.
/// </summary>
public sealed class Transformer2DModel : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly GroupNorm norm;
    private readonly nn.Module<Tensor, Tensor> proj_in;
    private readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    private readonly nn.Module<Tensor, Tensor> proj_out;
    private readonly bool useLinearProjection;

    public Transformer2DModel(long heads, long headDim, long inChannels, long layers, long crossAttentionDim,
        long normGroups, bool useLinearProjection, bool upcastAttention, double dropout = 0.0) : base(nameof(Transformer2DModel))
    {
        long inner = heads * headDim;
        norm = Norms.GroupNorm(normGroups, inChannels, eps: 1e-6);   // diffusers fixes 1e-6 here, not norm_eps
        proj_in = useLinearProjection ? nn.Linear(inChannels, inner) : nn.Conv2d(inChannels, inner, 1);
        transformer_blocks = new ModuleList<BasicTransformerBlock>();
        for (int i = 0; i < layers; i++)
            transformer_blocks.Add(new BasicTransformerBlock(inner, heads, headDim, crossAttentionDim, upcastAttention, dropout));
        proj_out = useLinearProjection ? nn.Linear(inner, inChannels) : nn.Conv2d(inner, inChannels, 1);
        this.useLinearProjection = useLinearProjection;
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <param name="context">[B, T, Cctx]</param>
    /// <returns>[B, C, H, W]</returns>
    public override Tensor forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        var hidden = norm.forward(x);                                            // [B, C, H, W]
        Tensor tokens;
        if (useLinearProjection)
            tokens = proj_in.call(ToTokens(hidden));                          // [B, HW, inner]
        else
            tokens = ToTokens(proj_in.call(hidden));                          // [B, HW, inner]
        foreach (var block in transformer_blocks) tokens = block.forward(tokens, context);
        long inner = tokens.shape[2];
        Tensor output;
        if (useLinearProjection)
            output = ToMap(proj_out.call(tokens), b, h, w, x.shape[1]);       // [B, C, H, W]
        else
            output = proj_out.call(ToMap(tokens, b, h, w, inner));            // [B, C, H, W]
        return (output + x).MoveToOuterDisposeScope();
    }

    /// <summary>[B, C, H, W] -> [B, HW, C]</summary>
    private static Tensor ToTokens(Tensor map) => map.permute(0, 2, 3, 1).reshape(map.shape[0], map.shape[2] * map.shape[3], map.shape[1]);

    /// <summary>[B, HW, C] -> [B, C, H, W]</summary>
    private static Tensor ToMap(Tensor tokens, long b, long h, long w, long c) => tokens.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous();
}
