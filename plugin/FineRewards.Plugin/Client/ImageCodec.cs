using FineRewards.Core.Contracts;
using SkiaSharp;

namespace FineRewards.Plugin.Client;

/// <summary>PNG and Skia conversions of the domain's <see cref="RgbImage"/>.</summary>
public static class ImageCodec
{
    public static RgbImage DecodePng(ReadOnlySpan<byte> png, string what = "image")
    {
        using var data = SKData.CreateCopy(png);
        using var bitmap = SKBitmap.Decode(data) ?? throw new InvalidDataException($"{what}: not a PNG SkiaSharp can decode");
        using var rgba = bitmap.Copy(SKColorType.Rgba8888) ?? throw new InvalidDataException($"{what}: cannot convert to RGBA");
        var src = rgba.GetPixelSpan();
        int w = rgba.Width, h = rgba.Height, stride = rgba.RowBytes;
        bool premultiplied = rgba.AlphaType == SKAlphaType.Premul;
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = y * stride + 4 * x, d = 3 * (y * w + x);
                int a = src[s + 3];
                // Flatten transparent pixels over white.
                for (int c = 0; c < 3; c++)
                    rgb[d + c] = premultiplied ? (byte)Math.Min(255, src[s + c] + 255 - a) : (byte)((src[s + c] * a + 255 * (255 - a) + 127) / 255);
            }
        return new RgbImage(w, h, rgb);
    }

    public static byte[] EncodePng(RgbImage image)
    {
        using var sk = ToSkImage(image);
        using var data = sk.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>
    /// An image in the platform's native pixel order (BGRA on x86 Linux and Windows): Skia blits those
    /// about 25 times faster than RGBA ones, which decides whether a full panel draws within a frame.
    /// </summary>
    public static SKImage ToSkImage(RgbImage image)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKImageInfo.PlatformColorType, SKAlphaType.Opaque);
        var pixels = new byte[image.Width * image.Height * 4];
        bool bgra = info.ColorType == SKColorType.Bgra8888;
        var p = image.Pixels;
        for (int i = 0, j = 0; i < p.Length; i += 3, j += 4)
        {
            pixels[j] = bgra ? p[i + 2] : p[i]; pixels[j + 1] = p[i + 1]; pixels[j + 2] = bgra ? p[i] : p[i + 2]; pixels[j + 3] = 255;
        }
        return SKImage.FromPixelCopy(info, pixels) ?? throw new InvalidOperationException("SkiaSharp could not make an image");
    }

    /// <summary>Premultiplied native-order pixels from straight RGBA (overlays, swatches).</summary>
    public static SKImage FromPremultipliedRgba(int width, int height, byte[] rgba)
    {
        var info = new SKImageInfo(width, height, SKImageInfo.PlatformColorType, SKAlphaType.Premul);
        if (info.ColorType == SKColorType.Bgra8888)
            for (int j = 0; j < rgba.Length; j += 4) (rgba[j], rgba[j + 2]) = (rgba[j + 2], rgba[j]);
        return SKImage.FromPixelCopy(info, rgba) ?? throw new InvalidOperationException("SkiaSharp could not make an image");
    }

    public static SKImage? DecodeToSkImage(ReadOnlySpan<byte> png)
    {
        using var data = SKData.CreateCopy(png);
        using var bitmap = SKBitmap.Decode(data);
        if (bitmap is null) return null;
        using var native = bitmap.Copy(SKImageInfo.PlatformColorType);
        return native is null ? null : SKImage.FromBitmap(native);
    }
}
