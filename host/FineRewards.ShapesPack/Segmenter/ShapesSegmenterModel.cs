using System.Text.Json.Serialization;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Segmenter;

/// <summary>The segmenter's config.json. <paramref name="Labels"/>[c] is the label of class c (0 = background).</summary>
public sealed record ShapesSegmenterConfig(
    [property: JsonPropertyName("channels")] IReadOnlyList<int> Channels,
    [property: JsonPropertyName("norm_groups")] int NormGroups,
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("min_area")] int MinArea)
{
    public static ShapesSegmenterConfig Default() => new([32, 64, 64], 8,
        ["background", .. Enumerable.Range(1, SceneMasks.Classes - 1).Select(SceneMasks.LabelOf)], MinArea: 16);
}

/// <summary>
/// A small U-Net that classifies every pixel into background or one of the 15 (colour, shape)
/// classes: encoder 64 -> 32 -> 16 -> 8 px, decoder back to 32 px with additive skips, logits
/// upsampled to 64 px. Shape needs context (an 18 px object), colour does not; the 8 px bottleneck
/// sees whole objects.
/// </summary>
public sealed class ShapesSegmenterModel : nn.Module<Tensor, Tensor>
{
    readonly ConvNormAct stem, conv1, down2, conv2, down3, conv3, up2, up1;
    readonly Conv2d proj1, head;

    public ShapesSegmenterConfig Config { get; }

    public ShapesSegmenterModel(ShapesSegmenterConfig config) : base(nameof(ShapesSegmenterModel))
    {
        Config = config;
        var (c1, c2, c3) = (config.Channels[0], config.Channels[1], config.Channels[2]);
        int g = config.NormGroups;
        stem = new ConvNormAct(3, c1, 2, g);       // 32 px
        conv1 = new ConvNormAct(c1, c1, 1, g);
        down2 = new ConvNormAct(c1, c2, 2, g);     // 16 px
        conv2 = new ConvNormAct(c2, c2, 1, g);
        down3 = new ConvNormAct(c2, c3, 2, g);     // 8 px
        conv3 = new ConvNormAct(c3, c3, 1, g);
        up2 = new ConvNormAct(c3, c2, 1, g);       // 16 px, after upsampling + skip
        proj1 = nn.Conv2d(c2, c1, 1);
        up1 = new ConvNormAct(c1, c1, 1, g);       // 32 px
        head = nn.Conv2d(c1, config.Labels.Count, 1);
        RegisterComponents();
    }

    /// <summary>[B, 3, 64, 64] in 0..1 -> class logits [B, K, 64, 64].</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var s1 = conv1.forward(stem.forward(images.Affine(2, -1)));                 // [B, c1, 32, 32]
        var s2 = conv2.forward(down2.forward(s1));                            // [B, c2, 16, 16]
        var s3 = conv3.forward(down3.forward(s2));                            // [B, c3, 8, 8]
        var u2 = up2.forward(F.interpolate(s3, scale_factor: [2, 2], mode: InterpolationMode.Nearest)) + s2;   // [B, c2, 16, 16]
        var u1 = up1.forward(proj1.forward(F.interpolate(u2, scale_factor: [2, 2], mode: InterpolationMode.Nearest)) + s1);   // [B, c1, 32, 32]
        var logits = head.forward(u1);                                        // [B, K, 32, 32]
        return F.interpolate(logits, [images.shape[2], images.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false).MoveToOuterDisposeScope();
    }
}
