using System.Text.Json.Serialization;
using FineRewards.Diffusion.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Nn;

/// <summary>The small CNN image tower shared by the captioner and the contrastive model.</summary>
/// <param name="Channels">Width after the stem and after each stride-2 stage; 64 px in, 64 / 2^Channels.Count px out.</param>
public sealed record ConvEncoderConfig(
    [property: JsonPropertyName("channels")] IReadOnlyList<int> Channels,
    [property: JsonPropertyName("norm_groups")] int NormGroups = 8)
{
    public static ConvEncoderConfig Small { get; } = new([32, 64, 128]);
    public int OutChannels => Channels[^1];
    /// <summary>Feature map side for a 64 px image.</summary>
    public int OutSize => 64 >> Channels.Count;
}

/// <summary>conv3x3 -> GroupNorm -> SiLU, the unit every stage is made of.</summary>
public sealed class ConvNormAct : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly GroupNorm norm;

    public ConvNormAct(long inChannels, long outChannels, long stride, int groups) : base(nameof(ConvNormAct))
    {
        conv = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1);
        norm = Norms.GroupNorm(groups, outChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var h = norm.forward(conv.forward(x));
        return nn.functional.silu(h);
    }
}

/// <summary>
/// [B, 3, 64, 64] in 0..1 -> [B, C, S, S]: a stride-2 stem (64 -> 32) and one stage per further
/// channel count (stride-2 conv then a stride-1 conv), e.g. 32 -> 16 -> 8 for [32, 64, 128].
/// </summary>
public sealed class ConvEncoder : nn.Module<Tensor, Tensor>
{
    readonly ConvNormAct stem;
    readonly ModuleList<Sequential> stages;

    public ConvEncoderConfig Config { get; }

    public ConvEncoder(ConvEncoderConfig config) : base(nameof(ConvEncoder))
    {
        Config = config;
        stem = new ConvNormAct(3, config.Channels[0], 2, config.NormGroups);
        stages = new ModuleList<Sequential>();
        for (int i = 1; i < config.Channels.Count; i++)
            stages.Add(nn.Sequential(
                ("down", new ConvNormAct(config.Channels[i - 1], config.Channels[i], 2, config.NormGroups)),
                ("conv", new ConvNormAct(config.Channels[i], config.Channels[i], 1, config.NormGroups))));
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var h = stem.forward(images.Affine(2, -1));                 // [B, C0, 32, 32]; inputs centred on 0
        foreach (var stage in stages) h = stage.forward(h);   // [B, Ci, 64 / 2^(i+1), ...]
        return h.MoveToOuterDisposeScope();
    }
}
