using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// A UNet decoder stage: diffusers' <c>CrossAttnUpBlock2D</c> or <c>UpBlock2D</c>. Each resnet
/// takes the running map concatenated with the newest unused skip connection of the encoder;
/// an optional nearest x2 upsampler follows.
/// </summary>
public sealed class UNetUpBlock : nn.Module
{
    private readonly ModuleList<Transformer2DModel>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;

    /// <summary>"CrossAttnUpBlock2D" or "UpBlock2D".</summary>
    public string BlockType { get; }

    /// <param name="inChannels">channels of the encoder stage below (the last skip this block consumes)</param>
    /// <param name="prevOutputChannels">channels coming from the previous decoder stage</param>
    /// <param name="layers">resnets in this block (diffusers: layers_per_block + 1)</param>
    public UNetUpBlock(string blockType, long inChannels, long outChannels, long prevOutputChannels, long tembChannels,
        int layers, bool addUpsample, UNet2DConditionConfig config, int heads, int crossAttentionDim, int transformerLayers)
        : base(blockType)
    {
        BlockType = blockType;
        bool crossAttention = blockType == "CrossAttnUpBlock2D";
        resnets = new ModuleList<ResnetBlock2D>();
        if (crossAttention) attentions = new ModuleList<Transformer2DModel>();
        for (int i = 0; i < layers; i++)
        {
            long skipChannels = i == layers - 1 ? inChannels : outChannels;
            long resnetIn = i == 0 ? prevOutputChannels : outChannels;
            resnets.Add(new ResnetBlock2D(resnetIn + skipChannels, outChannels, tembChannels, config.NormNumGroups, config.NormEps));
            attentions?.Add(new Transformer2DModel(heads, outChannels / heads, outChannels, transformerLayers,
                crossAttentionDim, config.NormNumGroups, config.UseLinearProjection, config.UpcastAttention, config.Dropout));
        }
        if (addUpsample) upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, outChannels));
        RegisterComponents();
    }

    public int ResnetCount => resnets.Count;

    /// <param name="x">[B, Cprev, H, W]</param>
    /// <param name="skips">this block's skip connections, oldest first (ResnetCount of them); consumed newest first</param>
    /// <param name="temb">[B, T]</param>
    /// <param name="context">[B, L, Cctx] (unused by UpBlock2D)</param>
    /// <param name="upsampleSize">target [H', W'] of the upsampler when it is not exactly 2H x 2W</param>
    /// <returns>[B, Cout, 2H, 2W] (or [B, Cout, H, W] without an upsampler)</returns>
    public Tensor Forward(Tensor x, IReadOnlyList<Tensor> skips, Tensor temb, Tensor context, long[]? upsampleSize = null)
    {
        if (skips.Count != resnets.Count)
            throw new ArgumentException($"{BlockType} needs {resnets.Count} skip connections, got {skips.Count}", nameof(skips));
        using var scope = NewDisposeScope();
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = skips[skips.Count - 1 - i];                                 // [B, Cskip, H, W]
            x = resnets[i].forward(cat([x, skip], 1), temb);                       // [B, Cout, H, W]
            if (attentions is not null) x = attentions[i].forward(x, context);
        }
        if (upsamplers is not null) x = upsamplers[0].forward(x, upsampleSize);   // [B, Cout, 2H, 2W]
        return x.MoveToOuterDisposeScope();
    }
}
