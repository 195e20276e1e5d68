using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using SkiaSharp;

namespace FineRewards.Plugin.Client;

/// <summary>
/// Skia conversions of the domain's <see cref="RgbImage"/> for drawing. PNG bytes go through Core's one codec
/// (<see cref="Contracts.IO.PngCodec"/>); only <see cref="DecodeToSkImage"/> decodes with Skia, because a thumbnail is
/// only drawn: decoding straight into the platform's pixel order skips an RgbImage and a second copy per frame.
/// </summary>
public static class ImageCodec
{
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
