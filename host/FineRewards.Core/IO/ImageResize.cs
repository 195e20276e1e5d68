using FineRewards.Contracts;

namespace FineRewards.Core.IO;

/// <summary>
/// Resampling of an <see cref="RgbImage"/> without a native library (the host, the packs and the evaluator share it):
/// shrinking averages the source pixels each target pixel covers, weighted by overlap (a box filter, so no source
/// pixel is skipped and thin shapes keep their colour), and enlarging interpolates bilinearly between pixel centres.
/// Separable: rows first, then columns.
/// </summary>
public static class ImageResize
{
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"target size {width}x{height} is not positive");
        if (image.Width == width && image.Height == height) return image;
        var across = Weights(image.Width, width);
        var down = Weights(image.Height, height);

        // [image.Height, width, 3]
        var rows = new float[image.Height * width * 3];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < width; x++)
                foreach (var (source, weight) in across[x])
                    for (int c = 0; c < 3; c++)
                        rows[(y * width + x) * 3 + c] += weight * image.Pixels[(y * image.Width + source) * 3 + c];

        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                {
                    float sum = 0;
                    foreach (var (source, weight) in down[y]) sum += weight * rows[(source * width + x) * 3 + c];
                    pixels[(y * width + x) * 3 + c] = (byte)Math.Clamp(MathF.Round(sum), 0, 255);
                }
        return new RgbImage(width, height, pixels);
    }

    /// <summary>For each target index along one axis, the source indices it reads and their weights (summing to 1).</summary>
    static (int Source, float Weight)[][] Weights(int from, int to)
    {
        var weights = new (int, float)[to][];
        double scale = (double)from / to;
        for (int i = 0; i < to; i++)
        {
            if (to < from)
            {
                double start = i * scale, end = (i + 1) * scale;
                var taps = new List<(int, float)>();
                for (int s = (int)Math.Floor(start); s < Math.Min(from, (int)Math.Ceiling(end)); s++)
                {
                    double overlap = Math.Min(end, s + 1) - Math.Max(start, s);
                    if (overlap > 1e-9) taps.Add((s, (float)(overlap / scale)));
                }
                weights[i] = taps.ToArray();
            }
            else
            {
                // Pixel centres aligned: target centre i + 0.5 sits at source position (i + 0.5) * scale.
                double at = Math.Clamp((i + 0.5) * scale - 0.5, 0, from - 1);
                int left = (int)Math.Floor(at), right = Math.Min(left + 1, from - 1);
                float t = (float)(at - left);
                weights[i] = right == left ? [(left, 1f)] : [(left, 1 - t), (right, t)];
            }
        }
        return weights;
    }
}
