using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// Segment Anything's preprocessing (segment-anything's <c>ResizeLongestSide</c> + <c>Sam.preprocess</c>): longest side
/// to <see cref="ImageSize"/> with Pillow's bilinear filter (the other side rounded half up), normalise with the pixel
/// mean and std on the 0..255 scale, pad bottom-right with zeros to a square. Read from the SAM folder's config.json
/// when it has these keys; the defaults are SAM's own.
/// </summary>
public sealed record SamImageProcessor(int ImageSize = 1024, float[]? PixelMean = null, float[]? PixelStd = null)
{
    static readonly float[] SamMean = [123.675f, 116.28f, 103.53f];
    static readonly float[] SamStd = [58.395f, 57.12f, 57.375f];

    public static SamImageProcessor Load(string path)
    {
        if (!File.Exists(path)) return new SamImageProcessor();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var p = new SamImageProcessor();
            if (root.TryGetProperty("image_size", out var size)) p = p with { ImageSize = size.GetInt32() };
            if (root.TryGetProperty("pixel_mean", out var mean)) p = p with { PixelMean = mean.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            if (root.TryGetProperty("pixel_std", out var std)) p = p with { PixelStd = std.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            if ((p.PixelMean ?? SamMean).Length != 3 || (p.PixelStd ?? SamStd).Length != 3)
                throw new InputException(path, "pixel_mean and pixel_std need three values (R, G, B)");
            return p;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InputException(path, $"not a SAM config: expected image_size, pixel_mean, pixel_std ({e.Message})");
        }
    }

    /// <summary>The size of the image inside the padded square (ResizeLongestSide.get_preprocess_shape).</summary>
    public (int Width, int Height) ResizedSize(int width, int height)
    {
        double scale = (double)ImageSize / Math.Max(width, height);
        return ((int)(width * scale + 0.5), (int)(height * scale + 0.5));
    }

    /// <summary>Writes [3, ImageSize, ImageSize] floats into <paramref name="output"/>.</summary>
    public void Preprocess(RgbImage image, Span<float> output)
    {
        var (w, h) = ResizedSize(image.Width, image.Height);
        var resized = PilResampler.Resize(image, w, h, ResampleFilter.Bilinear);
        var mean = PixelMean ?? SamMean;
        var std = PixelStd ?? SamStd;
        int plane = ImageSize * ImageSize;
        output[..(3 * plane)].Clear();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int at = (y * w + x) * 3;
                for (int c = 0; c < 3; c++)
                    output[c * plane + y * ImageSize + x] = (resized.Pixels[at + c] - mean[c]) / std[c];
            }
    }
}
