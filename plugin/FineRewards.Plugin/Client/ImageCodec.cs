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
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = y * stride + 4 * x, d = 3 * (y * w + x);
                int a = src[s + 3];
                // Flatten transparent pixels over white (unpremultiplied: alpha-blend each channel).
                for (int c = 0; c < 3; c++) rgb[d + c] = (byte)((src[s + c] * a + 255 * (255 - a) + 127) / 255);
            }
        return new RgbImage(w, h, rgb);
    }

    public static byte[] EncodePng(RgbImage image)
    {
        using var sk = ToSkImage(image);
        using var data = sk.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static SKImage ToSkImage(RgbImage image)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var rgba = new byte[image.Width * image.Height * 4];
        var p = image.Pixels;
        for (int i = 0, j = 0; i < p.Length; i += 3, j += 4)
        {
            rgba[j] = p[i]; rgba[j + 1] = p[i + 1]; rgba[j + 2] = p[i + 2]; rgba[j + 3] = 255;
        }
        return SKImage.FromPixelCopy(info, rgba) ?? throw new InvalidOperationException("SkiaSharp could not make an image");
    }

    public static SKImage? DecodeToSkImage(ReadOnlySpan<byte> png)
    {
        using var data = SKData.CreateCopy(png);
        return SKImage.FromEncodedData(data)?.ToRasterImage(ensurePixelData: true);
    }
}
