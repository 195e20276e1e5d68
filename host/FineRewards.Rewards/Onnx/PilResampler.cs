using FineRewards.Contracts;

namespace FineRewards.Rewards.Onnx;

public enum ResampleFilter { Bilinear, Bicubic }

/// <summary>
/// Resizes 8-bit RGB images the way Pillow's <c>Image.resize</c> does (no reducing gap), because CLIP's and
/// SAM's preprocessors run on Pillow and the models were trained on exactly those pixels: separable passes
/// (horizontal into an 8-bit buffer, then vertical), a filter widened by the scale when shrinking
/// (antialiasing), and 22-bit fixed-point weights. SkiaSharp's sampling differs by whole grey levels, which
/// moves CLIP's embeddings measurably; the fixture's reference pixel values are matched exactly by this.
/// </summary>
public static class PilResampler
{
    const int PrecisionBits = 32 - 8 - 2;

    public static RgbImage Resize(RgbImage image, int width, int height, ResampleFilter filter)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"target size {width}x{height} must be positive");
        if (image.Width == width && image.Height == height) return image;
        var (hBounds, hWeights, hSize) = Coefficients(image.Width, width, filter);
        var (vBounds, vWeights, vSize) = Coefficients(image.Height, height, filter);

        // Only the source rows the vertical pass reads are resampled horizontally (as Pillow does).
        int firstRow = vBounds[0];
        int lastRow = vBounds[(height - 1) * 2] + vBounds[(height - 1) * 2 + 1];
        byte[] source = image.Pixels;
        int sourceWidth = image.Width;
        int rows = image.Height;
        if (width != image.Width)
        {
            rows = lastRow - firstRow;
            var temp = new byte[width * rows * 3];
            for (int y = 0; y < rows; y++)
            {
                int rowIn = (y + firstRow) * image.Width * 3;
                for (int x = 0; x < width; x++)
                {
                    int min = hBounds[x * 2], count = hBounds[x * 2 + 1];
                    int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                    for (int i = 0; i < count; i++)
                    {
                        int k = hWeights[x * hSize + i], at = rowIn + (min + i) * 3;
                        s0 += image.Pixels[at] * k; s1 += image.Pixels[at + 1] * k; s2 += image.Pixels[at + 2] * k;
                    }
                    int o = (y * width + x) * 3;
                    temp[o] = Clip8(s0); temp[o + 1] = Clip8(s1); temp[o + 2] = Clip8(s2);
                }
            }
            source = temp;
            sourceWidth = width;
        }
        else firstRow = 0;
        if (height == image.Height) return new RgbImage(width, height, source);

        var output = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int min = vBounds[y * 2] - firstRow, count = vBounds[y * 2 + 1];
            for (int x = 0; x < width; x++)
            {
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                for (int i = 0; i < count; i++)
                {
                    int k = vWeights[y * vSize + i], at = ((min + i) * sourceWidth + x) * 3;
                    s0 += source[at] * k; s1 += source[at + 1] * k; s2 += source[at + 2] * k;
                }
                int o = (y * width + x) * 3;
                output[o] = Clip8(s0); output[o + 1] = Clip8(s1); output[o + 2] = Clip8(s2);
            }
        }
        return new RgbImage(width, height, output);
    }

    static byte Clip8(int value) => value >= 1 << PrecisionBits << 8 ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);

    static double Support(ResampleFilter filter) => filter == ResampleFilter.Bicubic ? 2.0 : 1.0;

    static double Weight(ResampleFilter filter, double x)
    {
        x = Math.Abs(x);
        if (filter == ResampleFilter.Bilinear) return x < 1.0 ? 1.0 - x : 0.0;
        const double a = -0.5;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <returns>Per output pixel its first source pixel and count (bounds), and fixed-point weights, kernelSize per pixel.</returns>
    static (int[] Bounds, int[] Weights, int KernelSize) Coefficients(int inSize, int outSize, ResampleFilter filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support(filter) * filterScale;
        double inverseScale = 1.0 / filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * kernelSize];
        var k = new double[kernelSize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize) - min;
            double sum = 0;
            for (int x = 0; x < max; x++) { k[x] = Weight(filter, (x + min - center + 0.5) * inverseScale); sum += k[x]; }
            for (int x = 0; x < max; x++)
            {
                double w = sum != 0 ? k[x] / sum : k[x];
                weights[xx * kernelSize + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            bounds[xx * 2] = min;
            bounds[xx * 2 + 1] = max;
        }
        return (bounds, weights, kernelSize);
    }
}
