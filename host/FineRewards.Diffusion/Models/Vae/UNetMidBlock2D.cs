using FineRewards.Diffusion.Models.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>
/// diffusers' <c>UNetMidBlock2D</c> as the VAE uses it: resnet, single-head spatial self-attention
/// over all positions (GroupNorm in front, residual added), resnet. No time embedding; eps 1e-6.
/// </summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Attention> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;

    public UNetMidBlock2D(long channels, long groups, double eps = 1e-6) : base(nameof(UNetMidBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>(new ResnetBlock2D(channels, channels, null, groups, eps));
        // One head as wide as the block; diffusers upcasts this softmax, here the whole score computation.
        attentions = new ModuleList<Attention>(new Attention(channels, null, heads: 1, headDim: channels, bias: true,
            upcastAttention: true, normGroups: groups, normEps: eps, residualConnection: true));
        resnets.Add(new ResnetBlock2D(channels, channels, null, groups, eps));
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <returns>[B, C, H, W]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = resnets[0].forward(x, null);
        x = attentions[0].forward(x, null);
        x = resnets[1].forward(x, null);
        return x.MoveToOuterDisposeScope();
    }
}
