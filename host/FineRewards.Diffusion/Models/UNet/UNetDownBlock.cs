using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// A UNet encoder stage: diffusers' <c>CrossAttnDownBlock2D</c> (each resnet followed by a
/// <see cref="Transformer2DModel"/>) or <c>DownBlock2D</c> (resnets only), then an optional
/// stride-2 downsampler. One class for both so the stage logic exists once; the checkpoint keys
/// are the same minus <c>attentions</c>.
/// </summary>
public sealed class UNetDownBlock : nn.Module
{
    private readonly ModuleList<Transformer2DModel>? attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;

    /// <summary>"CrossAttnDownBlock2D" or "DownBlock2D".</summary>
    public string BlockType { get; }

    public UNetDownBlock(string blockType, long inChannels, long outChannels, long tembChannels, int layers,
        bool addDownsample, UNet2DConditionConfig config, int heads, int crossAttentionDim, int transformerLayers)
        : base(blockType)
    {
        BlockType = blockType;
        bool crossAttention = blockType == "CrossAttnDownBlock2D";
        resnets = new ModuleList<ResnetBlock2D>();
        if (crossAttention) attentions = new ModuleList<Transformer2DModel>();
        for (int i = 0; i < layers; i++)
        {
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, tembChannels,
                config.NormNumGroups, config.NormEps));
            attentions?.Add(new Transformer2DModel(heads, outChannels / heads, outChannels, transformerLayers,
                crossAttentionDim, config.NormNumGroups, config.UseLinearProjection, config.UpcastAttention, config.Dropout));
        }
        if (addDownsample) downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, outChannels, config.DownsamplePadding));
        RegisterComponents();
    }

    public int ResnetCount => resnets.Count;

    /// <param name="x">[B, Cin, H, W]</param>
    /// <param name="temb">[B, T]</param>
    /// <param name="context">[B, L, Cctx] (unused by DownBlock2D)</param>
    /// <returns>the stage output [B, Cout, H', W'] (H' = H/2 with a downsampler) and every skip
    /// connection it leaves for the decoder, in order (one per resnet, plus the downsampled map)</returns>
    public (Tensor Hidden, List<Tensor> Skips) Forward(Tensor x, Tensor temb, Tensor context)
    {
        var skips = new List<Tensor>();
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < resnets.Count; i++)
            {
                x = resnets[i].forward(x, temb);                                   // [B, Cout, H, W]
                if (attentions is not null) x = attentions[i].forward(x, context);  // [B, Cout, H, W]
                skips.Add(x);
            }
            if (downsamplers is not null)
            {
                x = downsamplers[0].forward(x);                                    // [B, Cout, H/2, W/2]
                skips.Add(x);
            }
            foreach (var s in skips) s.MoveToOuterDisposeScope();
        }
        return (x, skips);
    }
}
