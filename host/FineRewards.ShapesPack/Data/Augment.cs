using FineRewards.Contracts;
using FineRewards.ShapesPack.Nn;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Data;

/// <summary>How strongly <see cref="Augment"/> disturbs training images; <see cref="None"/> turns it off.</summary>
/// <param name="Clean">Share of images left exactly as rendered.</param>
/// <param name="Warp">Geometry: rotation up to this many degrees, scale and shear up to 4%, plus a smooth displacement field of up to <paramref name="Wobble"/> px that makes shapes lumpy as generated ones are.</param>
/// <param name="LowRes">Chance of a 32x32 round trip (the diffusion model draws at 32x32 and upsamples).</param>
/// <param name="Blur">Chance of a Gaussian blur with sigma 0.4..1.0 px.</param>
/// <param name="ColorJitter">Per-channel gain on the ink (distance from white) and a brightness shift of a tenth of it.</param>
/// <param name="Blotches">Amplitude of low-frequency colour blotches (generated backgrounds are rarely flat).</param>
/// <param name="Noise">Maximum per-pixel Gaussian noise sigma.</param>
public sealed record AugmentOptions(
    double Clean = 0.2,
    double Warp = 4,
    double Wobble = 0.8,
    double LowRes = 0.3,
    double Blur = 0.3,
    double ColorJitter = 0.08,
    double Blotches = 0.05,
    double Noise = 0.05)
{
    public static AugmentOptions None { get; } = new(Clean: 1);
}

/// <summary>
/// Makes spec renders look like imperfect generated images, so the readers also read what the diffusion
/// model draws. Geometry is applied to the class targets too (nearest), so masks stay aligned.
/// All randomness comes from the given <see cref="Random"/> .
/// </summary>
public static class Augment
{
    /// <param name="images">[B, 3, 64, 64] in 0..1</param>
    /// <param name="targets">optional [B, 64, 64] int64 class map, warped with the images</param>
    /// <summary>Disturbed copies of whole images (the readers' "noisy" evaluation sets).</summary>
    public static List<RgbImage> Images(IReadOnlyList<RgbImage> images, AugmentOptions options, Random random)
    {
        using var scope = NewDisposeScope();
        var (disturbed, _) = Apply(ImageTensors.FromImages(images), null, options, random);   // [N, 3, 64, 64]
        return Enumerable.Range(0, images.Count).Select(i => ImageTensors.ToImage(disturbed[i])).ToList();
    }

    public static (Tensor Images, Tensor? Targets) Apply(Tensor images, Tensor? targets, AugmentOptions options, Random random)
    {
        if (options.Clean >= 1) return (images.alias(), targets?.alias());
        using var scope = NewDisposeScope();
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        var keep = tensor(Enumerable.Range(0, (int)b).Select(_ => random.NextDouble() < options.Clean ? 1f : 0f).ToArray()).view(b, 1, 1, 1);
        var x = images;
        Tensor? t = targets;

        // Geometry: an affine map near identity plus a smooth 4x4 displacement field, sampled on the ink (1 - x)
        // so that what moves in from outside the canvas is white.
        if (options.Warp > 0)
        {
            var theta = new float[b * 6];
            for (int i = 0; i < b; i++)
            {
                double angle = (random.NextDouble() * 2 - 1) * options.Warp * Math.PI / 180;
                double scale = 1 + (random.NextDouble() * 2 - 1) * 0.04, shear = (random.NextDouble() * 2 - 1) * 0.04;
                double tx = (random.NextDouble() * 2 - 1) * 1.0 / 32, ty = (random.NextDouble() * 2 - 1) * 1.0 / 32;
                double c = Math.Cos(angle) * scale, s = Math.Sin(angle) * scale;
                theta[i * 6 + 0] = (float)c; theta[i * 6 + 1] = (float)(-s + shear); theta[i * 6 + 2] = (float)tx;
                theta[i * 6 + 3] = (float)s; theta[i * 6 + 4] = (float)c; theta[i * 6 + 5] = (float)ty;
            }
            var grid = F.affine_grid(tensor(theta).view(b, 2, 3), [b, 3, h, w], align_corners: false);   // [B, H, W, 2]
            var flow = Uniform(random, [b, 2, 4, 4], options.Wobble * 2 / w);           // px -> grid units
            flow = F.interpolate(flow, [h, w], mode: InterpolationMode.Bicubic, align_corners: false).permute(0, 2, 3, 1);
            grid = grid.add(flow);
            var warped = F.grid_sample(x.SubFrom(1), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false).SubFrom(1);
            x = Mix(warped, images, keep);
            if (t is not null)
            {
                var tw = F.grid_sample(t.unsqueeze(1).to(ScalarType.Float32), grid, GridSampleMode.Nearest, GridSamplePaddingMode.Zeros, align_corners: false)
                    .squeeze(1).round().to(ScalarType.Int64);
                var keepT = keep.view(b, 1, 1).gt(tensor(0.5f));
                t = where(keepT, t, tw);
            }
        }

        var rest = x;
        if (options.LowRes > 0)
        {
            var low = F.interpolate(F.interpolate(rest, [h / 2, w / 2], mode: InterpolationMode.Area), [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
            rest = Mix(rest, low, Chance(b, options.LowRes, random));
        }
        if (options.Blur > 0)
        {
            double sigma = 0.4 + random.NextDouble() * 0.6;
            var k1 = tensor(new[] { -1, 0, 1 }.Select(d => (float)Math.Exp(-d * d / (2 * sigma * sigma))).ToArray());
            k1 = k1.div(k1.sum());
            var kernel = (k1.view(3, 1) * k1.view(1, 3)).view(1, 1, 3, 3).expand(3, 1, 3, 3).contiguous();
            // Pad with white (replicate keeps edges natural) so the border does not darken.
            var blurred = F.conv2d(F.pad(rest, [1, 1, 1, 1], TorchSharp.PaddingModes.Replicate), kernel, groups: 3);
            rest = Mix(rest, blurred, Chance(b, options.Blur, random));
        }
        if (options.ColorJitter > 0)
        {
            var gain = Uniform(random, [b, 3, 1, 1], options.ColorJitter).Add(1);
            var shift = Uniform(random, [b, 1, 1, 1], options.ColorJitter / 4);
            rest = rest.SubFrom(1).mul(gain).SubFrom(1).add(shift);
        }
        if (options.Blotches > 0)
        {
            var blotch = Uniform(random, [b, 3, 4, 4], options.Blotches);
            rest = rest.add(F.interpolate(blotch, [h, w], mode: InterpolationMode.Bilinear, align_corners: false));
        }
        if (options.Noise > 0)
        {
            var sigma = Uniform(random, [b, 1, 1, 1], 0.5).Affine(options.Noise, 0.5 * options.Noise);
            rest = rest.add(Normal(random, [b, 3, h, w]).mul(sigma));
        }
        rest = rest.Clamp(0, 1);
        var result = Mix(rest, images, keep);
        return (result.MoveToOuterDisposeScope(), t?.MoveToOuterDisposeScope());
    }

    /// <summary>Uniform in [-amplitude, amplitude], drawn from <paramref name="random"/> (torch's generators are not needed).</summary>
    static Tensor Uniform(Random random, long[] shape, double amplitude)
    {
        var data = new float[shape.Aggregate(1L, (a, x) => a * x)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((random.NextDouble() * 2 - 1) * amplitude);
        return tensor(data, shape);
    }

    /// <summary>Standard normal samples (Box-Muller).</summary>
    static Tensor Normal(Random random, long[] shape)
    {
        var data = new float[shape.Aggregate(1L, (a, x) => a * x)];
        for (int i = 0; i < data.Length; i += 2)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble(), r = Math.Sqrt(-2 * Math.Log(u1));
            data[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < data.Length) data[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
        return tensor(data, shape);
    }

    static Tensor Chance(long b, double p, Random random) =>
        tensor(Enumerable.Range(0, (int)b).Select(_ => random.NextDouble() < p ? 1f : 0f).ToArray()).view(b, 1, 1, 1);

    static Tensor Mix(Tensor a, Tensor b, Tensor choose) => a.add(b.sub(a).mul(choose));
}
