using System.Runtime.CompilerServices;
using FineRewards.Contracts;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// Draws segment masks over candidate images, tinted by verdict and, so colour is never the only
/// cue, each verdict with its own pattern and letter: certain = green diagonal hatch "C", may =
/// amber dots "M", unlikely = red cross-hatch "U". Overlays are rasterised once per segment and
/// size, and composited with their candidate's image once per size and filter, so a frame only
/// blits one opaque image per candidate.
/// </summary>
public sealed class SegmentOverlay : IDisposable
{
    public static SKColor Tint(Verdict v) => v switch
    {
        Verdict.Certain => new SKColor(0x3c, 0xd0, 0x6e),
        Verdict.May => new SKColor(0xf0, 0xb4, 0x2c),
        _ => new SKColor(0xf0, 0x4a, 0x4a),
    };

    public static string Letter(Verdict v) => v switch { Verdict.Certain => "C", Verdict.May => "M", _ => "U" };

    public static string Pattern(Verdict v) => v switch { Verdict.Certain => "diagonal hatch", Verdict.May => "dots", _ => "cross-hatch" };

    /// <summary>Whether device pixel (x, y) is on the verdict's pattern (else only a light tint).</summary>
    public static bool OnPattern(Verdict v, int x, int y) => v switch
    {
        Verdict.Certain => (x + y) % 6 < 2,
        Verdict.May => x % 4 < 2 && y % 4 < 2,
        _ => (x + y) % 7 < 2 || ((x - y) % 7 + 7) % 7 < 2,
    };

    static readonly ConditionalWeakTable<RunLengthMask, bool[]> bitsCache = new();

    /// <summary>The mask's pixels (decoded once per mask).</summary>
    public static bool[] Bits(RunLengthMask mask) => bitsCache.GetValue(mask, m => m.Width * m.Height == 0 ? [] : m.ToBits());

    public static bool Contains(RunLengthMask mask, int x, int y) =>
        x >= 0 && y >= 0 && x < mask.Width && y < mask.Height && Bits(mask) is { Length: > 0 } b && b[y * mask.Width + x];

    readonly Dictionary<(RunLengthMask, Verdict, int, int, bool), SKImage> cache = new(ReferenceKeyComparer.Instance);

    /// <summary>
    /// Draws a candidate image enlarged with nearest-neighbour sampling, with the overlays of its
    /// segments whose verdict <paramref name="shows"/>, as one cached image per candidate, size,
    /// verdict filter and highlighted segment. A frame then blits one opaque image per tile: no
    /// per-segment alpha blending, no rescaling.
    /// </summary>
    /// <param name="rewards">The candidate's reward results (their segments); an immutable snapshot list, so its identity keys the cache.</param>
    public void DrawComposite(Ui.Ui ui, SKImage preview, IReadOnlyList<Client.RewardView> rewards, SKRect dest, Func<Verdict, bool> shows, JudgedSegment? highlight = null)
    {
        float scale = ui.Input.Scale;
        int w = Math.Max(1, (int)MathF.Round(dest.Width * scale)), h = Math.Max(1, (int)MathF.Round(dest.Height * scale));
        int filter = (shows(Verdict.Certain) ? 1 : 0) | (shows(Verdict.May) ? 2 : 0) | (shows(Verdict.Unlikely) ? 4 : 0);
        var key = new CompositeKey(preview, rewards, w, h, filter, highlight);
        if (!composites.TryGetValue(key, out var image))
        {
            if (composites.Count > 512) ClearComposites();
            image = composites[key] = Composite(preview, rewards, w, h, shows, highlight);
        }
        var canvas = ui.Canvas;
        canvas.Save();
        canvas.Scale(1 / scale);
        canvas.DrawImage(image, MathF.Round(dest.Left * scale), MathF.Round(dest.Top * scale));
        canvas.Restore();
    }

    SKImage Composite(SKImage preview, IReadOnlyList<Client.RewardView> rewards, int w, int h, Func<Verdict, bool> shows, JudgedSegment? highlight)
    {
        // Opaque when the image is: Skia then copies rows instead of blending every pixel.
        var alpha = preview.AlphaType == SKAlphaType.Opaque ? SKAlphaType.Opaque : SKAlphaType.Premul;
        using var surface = SKSurface.Create(new SKImageInfo(w, h, SKImageInfo.PlatformColorType, alpha))
            ?? throw new InvalidOperationException($"SkiaSharp could not make a {w}x{h} surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        canvas.DrawImage(preview, new SKRect(0, 0, w, h), new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
        foreach (var segment in RankingExplanation.DistinctSegments(rewards))
            {
                if (!shows(segment.Verdict)) continue;
                var mask = segment.Segment.Mask;
                if (mask.Width == 0 || mask.Height == 0) continue;
                bool lit = ReferenceEquals(segment, highlight);
                var key = (mask, segment.Verdict, w, h, lit);
                if (!cache.TryGetValue(key, out var layer))
                {
                    if (cache.Count > 2048) Clear();
                    layer = cache[key] = Rasterise(mask, segment.Verdict, w, h, lit);
                }
                canvas.DrawImage(layer, 0, 0);
            }
        var snapshot = surface.Snapshot();
        var raster = snapshot.ToRasterImage(ensurePixelData: true);
        if (!ReferenceEquals(raster, snapshot)) snapshot.Dispose(); // a raster snapshot is returned as itself
        return raster;
    }

    readonly record struct CompositeKey(SKImage Preview, IReadOnlyList<Client.RewardView> Rewards, int W, int H, int Filter, JudgedSegment? Highlight)
    {
        // Snapshot objects never change: compare them by reference.
        public bool Equals(CompositeKey o) => ReferenceEquals(Preview, o.Preview) && ReferenceEquals(Rewards, o.Rewards) && W == o.W && H == o.H
                                             && Filter == o.Filter && ReferenceEquals(Highlight, o.Highlight);
        public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(Preview), RuntimeHelpers.GetHashCode(Rewards), W, H, Filter,
            Highlight is null ? 0 : RuntimeHelpers.GetHashCode(Highlight));
    }

    readonly Dictionary<CompositeKey, SKImage> composites = new();

    void ClearComposites()
    {
        foreach (var image in composites.Values) image.Dispose();
        composites.Clear();
    }

    static SKImage Rasterise(RunLengthMask mask, Verdict verdict, int w, int h, bool highlight)
    {
        var bits = Bits(mask);
        var tint = Tint(verdict);
        // Premultiplied RGBA: a light wash everywhere on the mask, the pattern strong, the outline solid.
        byte washA = (byte)(highlight ? 110 : 45), patternA = 170, edgeA = 255;
        var pixels = new byte[w * h * 4];
        int mw = mask.Width, mh = mask.Height;
        bool At(int mx, int my) => mx >= 0 && my >= 0 && mx < mw && my < mh && bits[my * mw + mx];
        for (int y = 0; y < h; y++)
        {
            int my = y * mh / h;
            for (int x = 0; x < w; x++)
            {
                int mx = x * mw / w;
                if (!At(mx, my)) continue;
                // An outline where the neighbouring output pixel falls outside the mask.
                bool edge = !At((x - 1) * mw / w, my) || !At((x + 1) * mw / w, my) || !At(mx, (y - 1) * mh / h) || !At(mx, (y + 1) * mh / h)
                            || x == 0 || y == 0 || x == w - 1 || y == h - 1;
                byte a = edge ? edgeA : OnPattern(verdict, x, y) ? patternA : washA;
                int o = 4 * (y * w + x);
                pixels[o] = (byte)(tint.Red * a / 255);
                pixels[o + 1] = (byte)(tint.Green * a / 255);
                pixels[o + 2] = (byte)(tint.Blue * a / 255);
                pixels[o + 3] = a;
            }
        }
        return Client.ImageCodec.FromPremultipliedRgba(w, h, pixels);
    }

    readonly Dictionary<(Verdict, int, int), SKImage> swatches = new();

    /// <summary>A legend swatch: the verdict's pattern and outline in a small square, with its letter.</summary>
    public void DrawSwatch(SKCanvas canvas, Verdict verdict, SKRect rect, float scale, SKFont font)
    {
        int w = Math.Max(2, (int)(rect.Width * scale)), h = Math.Max(2, (int)(rect.Height * scale));
        if (!swatches.TryGetValue((verdict, w, h), out var image))
        {
            var tint = Tint(verdict);
            var pixels = new byte[w * h * 4];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    bool edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
                    if (!edge && !OnPattern(verdict, x, y)) continue;
                    byte a = edge ? (byte)255 : (byte)220;
                    int o = 4 * (y * w + x);
                    pixels[o] = (byte)(tint.Red * a / 255); pixels[o + 1] = (byte)(tint.Green * a / 255); pixels[o + 2] = (byte)(tint.Blue * a / 255); pixels[o + 3] = a;
                }
            image = swatches[(verdict, w, h)] = Client.ImageCodec.FromPremultipliedRgba(w, h, pixels);
        }
        canvas.DrawImage(image, rect);
        using var text = new SKPaint { IsAntialias = true, Color = SKColors.White };
        using var shadow = new SKPaint { IsAntialias = true, Color = SKColors.Black.WithAlpha(200) };
        canvas.DrawText(Letter(verdict), rect.MidX + 0.8f, rect.MidY + font.Size * 0.36f + 0.8f, SKTextAlign.Center, font, shadow);
        canvas.DrawText(Letter(verdict), rect.MidX, rect.MidY + font.Size * 0.36f, SKTextAlign.Center, font, text);
    }

    public void Clear()
    {
        foreach (var image in cache.Values) image.Dispose();
        cache.Clear();
    }

    public void Dispose()
    {
        Clear();
        ClearComposites();
        foreach (var image in swatches.Values) image.Dispose();
        swatches.Clear();
    }

    /// <summary>Masks are compared by reference: a snapshot's mask object never changes.</summary>
    sealed class ReferenceKeyComparer : IEqualityComparer<(RunLengthMask, Verdict, int, int, bool)>
    {
        public static readonly ReferenceKeyComparer Instance = new();
        public bool Equals((RunLengthMask, Verdict, int, int, bool) a, (RunLengthMask, Verdict, int, int, bool) b) =>
            ReferenceEquals(a.Item1, b.Item1) && a.Item2 == b.Item2 && a.Item3 == b.Item3 && a.Item4 == b.Item4 && a.Item5 == b.Item5;
        public int GetHashCode((RunLengthMask, Verdict, int, int, bool) k) =>
            HashCode.Combine(RuntimeHelpers.GetHashCode(k.Item1), k.Item2, k.Item3, k.Item4, k.Item5);
    }
}
