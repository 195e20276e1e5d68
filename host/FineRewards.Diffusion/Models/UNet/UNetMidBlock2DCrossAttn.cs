using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>diffusers' <c>UNetMidBlock2DCrossAttn</c>: resnet, then (transformer, resnet) pairs, at the lowest resolution.</summary>
public sealed class UNetMidBlock2DCrossAttn : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    // diffusers registers the attentions before the resnets; the checkpoint order follows.
    private readonly ModuleList<Transformer2DModel> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;

    public UNetMidBlock2DCrossAttn(long channels, long tembChannels, UNet2DConditionConfig config, int heads,
        int crossAttentionDim, int transformerLayers, int layers = 1) : base(nameof(UNetMidBlock2DCrossAttn))
    {
        resnets = new ModuleList<ResnetBlock2D>(
            new ResnetBlock2D(channels, channels, tembChannels, config.NormNumGroups, config.NormEps, config.MidBlockScaleFactor));
        attentions = new ModuleList<Transformer2DModel>();
        for (int i = 0; i < layers; i++)
        {
            attentions.Add(new Transformer2DModel(heads, channels / heads, channels, transformerLayers, crossAttentionDim,
                config.NormNumGroups, config.UseLinearProjection, config.UpcastAttention, config.Dropout));
            resnets.Add(new ResnetBlock2D(channels, channels, tembChannels, config.NormNumGroups, config.NormEps, config.MidBlockScaleFactor));
        }
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <param name="temb">[B, T]</param>
    /// <param name="context">[B, L, Cctx]</param>
    /// <returns>[B, C, H, W]</returns>
    public override Tensor forward(Tensor x, Tensor temb, Tensor context)
    {
        using var scope = NewDisposeScope();
        x = resnets[0].forward(x, temb);
        for (int i = 0; i < attentions.Count; i++)
        {
            x = attentions[i].forward(x, context);
            x = resnets[i + 1].forward(x, temb);
        }
        return x.MoveToOuterDisposeScope();
    }
}
