using FineRewards.Contracts;
using FineRewards.Shapes.World;
using SkiaSharp;

namespace FineRewards.Shapes.Rendering;

/// <summary>
/// Draws a scene the way the spec defines a "spec render": white 64 x 64 canvas, anti-aliased filled
/// shapes in the exact palette colours, no outline. Skia's pixel grid matches the spec's (pixel i
/// covers [i, i+1)). Skia's own anti-aliasing quantises path coverage (a small triangle's centre can
/// move by 0.1 px), so the scene is drawn at 8x and each pixel is the mean of its 8 x 8 block: its
/// value is then, to within about 1%, the blend of colour and white by the area the shape covers.
/// </summary>
public static class SceneRenderer
{
    const int Supersample = 8;

    public static RgbImage Render(Scene scene) => Render(scene.Objects);

    /// <summary>Draws objects without checking the scene rules: for counter-examples (touching or overlapping shapes).</summary>
    public static RgbImage Render(IEnumerable<ShapeObject> objects)
    {
        int big = Scene.Canvas * Supersample;
        using var bitmap = new SKBitmap(new SKImageInfo(big, big, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            canvas.Scale(Supersample);
            foreach (var o in objects) Draw(canvas, o);
            canvas.Flush();
        }
        return BoxShrink(bitmap, Supersample);
    }

    /// <summary>Averages factor x factor blocks of an opaque RGBA bitmap into an RGB image, rounding to nearest.</summary>
    static RgbImage BoxShrink(SKBitmap bitmap, int factor)
    {
        ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
        int w = bitmap.Width / factor, h = bitmap.Height / factor, stride = bitmap.RowBytes, n = factor * factor;
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int j = 0; j < factor; j++)
                        for (int i = 0; i < factor; i++)
                            sum += rgba[(y * factor + j) * stride + 4 * (x * factor + i) + c];
                    rgb[3 * (y * w + x) + c] = (byte)((sum + n / 2) / n);
                }
        return new RgbImage(w, h, rgb);
    }

    static void Draw(SKCanvas canvas, ShapeObject o)
    {
        var (r, g, b) = o.Color.Rgb();
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = new SKColor(r, g, b) };
        float x = (float)o.X, y = (float)o.Y, half = (float)(o.Size / 2);
        switch (o.Shape)
        {
            case ShapeKind.Circle:
                canvas.DrawCircle(x, y, half, paint);
                break;
            case ShapeKind.Square:
                canvas.DrawRect(new SKRect(x - half, y - half, x + half, y + half), paint);
                break;
            case ShapeKind.Triangle:
                using (var path = new SKPath())
                {
                    // Apex at the top centre, base along the bottom edge of the box.
                    path.MoveTo(x, y - half);
                    path.LineTo(x + half, y + half);
                    path.LineTo(x - half, y + half);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(o), $"unknown shape {o.Shape}");
        }
    }
}
