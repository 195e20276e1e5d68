using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.IO;
using SkiaSharp;

namespace FineRewards.Shapes.Rendering;

/// <summary>PNG reading and writing and resizing of <see cref="RgbImage"/> through SkiaSharp.</summary>
public static class ImageFiles
{
    public static byte[] EncodePng(RgbImage image)
    {
        using var bitmap = ToBitmap(image);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the image as PNG");
        return data.ToArray();
    }

    public static void WritePng(RgbImage image, string path) => AtomicFile.WriteAllBytes(path, EncodePng(image));

    /// <summary>Reads a PNG (or any format Skia decodes); transparent pixels are composited over white.</summary>
    public static RgbImage ReadImage(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "image file does not exist");
        byte[] bytes = File.ReadAllBytes(path);
        using var decoded = SKBitmap.Decode(bytes) ?? throw new InputException(path, "not an image SkiaSharp can decode (expected PNG)");
        using var flat = new SKBitmap(new SKImageInfo(decoded.Width, decoded.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(flat))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(decoded, 0, 0);
        }
        return FromBitmap(flat);
    }

    /// <summary>Resamples with bilinear filtering (and mipmaps when shrinking), pixel centres aligned.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (image.Width == width && image.Height == height) return image;
        using var source = ToBitmap(image);
        using var resized = source.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidOperationException($"SkiaSharp could not resize {image.Width}x{image.Height} to {width}x{height}");
        return FromBitmap(resized);
    }

    internal static RgbImage FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888) throw new ArgumentException($"expected an RGBA bitmap, got {bitmap.ColorType}");
        ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
        int w = bitmap.Width, h = bitmap.Height, stride = bitmap.RowBytes;
        var rgb = new byte[w * h * 3];
        // The canvas is opaque (white background), so premultiplied and straight RGB agree.
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = y * stride + 4 * x, d = 3 * (y * w + x);
                rgb[d] = rgba[s];
                rgb[d + 1] = rgba[s + 1];
                rgb[d + 2] = rgba[s + 2];
            }
        return new RgbImage(w, h, rgb);
    }

    internal static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        int w = image.Width, h = image.Height, stride = bitmap.RowBytes;
        var rgba = new byte[stride * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = 3 * (y * w + x), d = y * stride + 4 * x;
                rgba[d] = image.Pixels[s];
                rgba[d + 1] = image.Pixels[s + 1];
                rgba[d + 2] = image.Pixels[s + 2];
                rgba[d + 3] = 255;
            }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }
}
