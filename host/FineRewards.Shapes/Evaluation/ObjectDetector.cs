using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>Pixel bounding box of a detected object: columns X..X+Width-1, rows Y..Y+Height-1.</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height);

/// <summary>
/// One object found in an image. <see cref="Color"/> and <see cref="Shape"/> are set only when the
/// object is a recognisable palette shape; otherwise <see cref="Issue"/> says why not, and the
/// object counts as an extra one. X, Y, Size are those of the best-fitting shape.
/// </summary>
public sealed record DetectedObject(
    ShapeColor? Color,
    ShapeKind? Shape,
    double X,
    double Y,
    double Size,
    PixelBox Box,
    int Pixels,
    (byte R, byte G, byte B) Rgb,
    double ColorDistance,
    double FitError,
    string? Issue)
{
    public bool Recognised => Issue is null;

    public string Name => Recognised ? $"{Color!.Value.Word()} {Shape!.Value.Word()}" : "unrecognised object";

    public string Describe() =>
        $"{(Recognised ? Name : $"{Name} ({Issue})")} at ({X:0.##}, {Y:0.##}), size {Size:0.#}";
}

/// <summary>
/// Finds the objects of a Shapes image: connected regions of non-white pixels, split where several
/// solid cores share one faint halo (a blurred 2 px gap), each classified by the nearest palette
/// colour and the best-fitting shape.
/// </summary>
public static class ObjectDetector
{
    /// <summary>Ink = largest drop of a channel below 255. A pixel with at least this much belongs to some object.</summary>
    public const int LowInk = 40;
    /// <summary>Ink of a solid interior (about 60% coverage for every palette colour).</summary>
    public const int CoreInk = 128;
    /// <summary>Regions smaller than this are specks, not objects (the smallest object covers about 50).</summary>
    public const int MinPixels = 12;
    const int MinCorePixels = 4;
    /// <summary>Pixels fainter than this are background; fainter than <see cref="LowInk"/> but not, they join the rim of an adjacent object.</summary>
    const int FaintInk = 3;
    /// <summary>Pixels around an object's box that the fit sees (room for blurred edges).</summary>
    const int WindowMargin = 3;
    /// <summary>RGB distance within which an object's colour is that palette colour (half the closest pair is 59).</summary>
    public const double ColorTolerance = 50;
    /// <summary>Largest fit error (see <see cref="FitResult.Error"/>) of a recognisable shape.</summary>
    public const double FitTolerance = 0.2;
    /// <summary>More than this share of core pixels nearer another palette colour marks a mixed-colour blob.</summary>
    const double MixedShare = 0.15;

    public static IReadOnlyList<DetectedObject> Detect(RgbImage image)
    {
        int w = image.Width, h = image.Height;
        var ink = new int[w * h];
        for (int k = 0; k < w * h; k++)
        {
            var px = image.Pixels.AsSpan(3 * k, 3);
            ink[k] = 255 - Math.Min(px[0], Math.Min(px[1], px[2]));
        }

        // label[k]: object index of pixel k, or -1.
        var label = new int[w * h];
        Array.Fill(label, -1);
        var regions = new List<List<int>>();
        foreach (var component in Components(w, h, k => ink[k] >= LowInk, _ => true))
        {
            if (component.Count < MinPixels) continue;
            foreach (var part in SplitByCores(component, ink, w, h))
            {
                foreach (int k in part) label[k] = regions.Count;
                regions.Add(part);
            }
        }

        GrowIntoFaintEdges(label, ink, w, h);

        var found = new List<DetectedObject>();
        for (int r = 0; r < regions.Count; r++) found.Add(Describe(image, regions[r], r, label));
        return found.OrderBy(o => o.X).ThenBy(o => o.Y).ToList();
    }

    /// <summary>8-connected components of the pixels where <paramref name="inside"/> holds.</summary>
    static List<List<int>> Components(int w, int h, Func<int, bool> inside, Func<int, bool> allowed)
    {
        var seen = new bool[w * h];
        var result = new List<List<int>>();
        var queue = new Queue<int>();
        for (int start = 0; start < w * h; start++)
        {
            if (seen[start] || !allowed(start) || !inside(start)) continue;
            var comp = new List<int>();
            seen[start] = true;
            queue.Enqueue(start);
            while (queue.Count > 0)
            {
                int k = queue.Dequeue();
                comp.Add(k);
                int x = k % w, y = k / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                        int n = ny * w + nx;
                        if (seen[n] || !allowed(n) || !inside(n)) continue;
                        seen[n] = true;
                        queue.Enqueue(n);
                    }
            }
            result.Add(comp);
        }
        return result;
    }

    /// <summary>
    /// Two objects 2 px apart can share a faint bridge once an image is blurred (e.g. shrunk to 32 x 32
    /// and enlarged). Their solid cores stay apart, so a region with several cores is divided among
    /// them, each faint pixel going to the core it reaches first. Truly touching objects share one core
    /// and stay one (merged) blob.
    /// </summary>
    static List<List<int>> SplitByCores(List<int> component, int[] ink, int w, int h)
    {
        var member = new HashSet<int>(component);
        var cores = Components(w, h, k => ink[k] >= CoreInk, member.Contains).Where(c => c.Count >= MinCorePixels).ToList();
        if (cores.Count < 2) return [component];

        var owner = new Dictionary<int, int>();
        var queue = new Queue<int>();
        for (int c = 0; c < cores.Count; c++)
            foreach (int k in cores[c]) { owner[k] = c; queue.Enqueue(k); }
        while (queue.Count > 0)
        {
            int k = queue.Dequeue();
            int x = k % w, y = k / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                    int n = ny * w + nx;
                    if (!member.Contains(n) || owner.ContainsKey(n)) continue;
                    owner[n] = owner[k];
                    queue.Enqueue(n);
                }
        }
        var parts = Enumerable.Range(0, cores.Count).Select(_ => new List<int>()).ToList();
        foreach (int k in component) parts[owner[k]].Add(k);
        return parts;
    }

    /// <summary>
    /// Gives the faint anti-aliased rim around each object (ink below <see cref="LowInk"/>) to the
    /// nearest object, a few pixels deep, so that a neighbour's rim never adds to an object's mass.
    /// </summary>
    static void GrowIntoFaintEdges(int[] label, int[] ink, int w, int h)
    {
        var frontier = Enumerable.Range(0, w * h).Where(k => label[k] >= 0).ToList();
        for (int step = 0; step < WindowMargin && frontier.Count > 0; step++)
        {
            var next = new List<int>();
            foreach (int k in frontier)
            {
                int x = k % w, y = k / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                        int n = ny * w + nx;
                        if (label[n] != -1 || ink[n] < FaintInk) continue;
                        label[n] = label[k];
                        next.Add(n);
                    }
            }
            frontier = next;
        }
    }

    static DetectedObject Describe(RgbImage image, List<int> pixels, int index, int[] label)
    {
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1, maxInk = 0;
        foreach (int k in pixels)
        {
            int x = k % w, y = k / w;
            minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
            minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
            maxInk = Math.Max(maxInk, Ink(px, k));
        }
        var box = new PixelBox(minX, minY, maxX - minX + 1, maxY - minY + 1);

        // The object's colour: per-channel median of its most inked pixels (its interior).
        var top = pixels.Where(k => Ink(px, k) >= 0.8 * maxInk).ToList();
        var rgb = (Median(top, px, 0), Median(top, px, 1), Median(top, px, 2));
        var (nearest, distance) = NearestColor(rgb.Item1, rgb.Item2, rgb.Item3);

        // Coverage of each window pixel by this object's colour: the projection of (white - pixel)
        // onto (white - colour). Pixels of other objects are left out of the fit.
        int x0 = Math.Max(0, minX - WindowMargin), y0 = Math.Max(0, minY - WindowMargin);
        int x1 = Math.Min(w, maxX + 1 + WindowMargin), y1 = Math.Min(h, maxY + 1 + WindowMargin);
        int ww = x1 - x0, wh = y1 - y0;
        // Measured against the palette colour when there is one: a small blurred object may have no
        // pure interior pixel, and a too-light colour would inflate its coverage, size and centre.
        var full = distance <= ColorTolerance ? nearest.Rgb() : rgb;
        double dr = 255 - full.Item1, dg = 255 - full.Item2, db = 255 - full.Item3;
        double norm = dr * dr + dg * dg + db * db;
        var observed = new double[ww * wh];
        var use = new bool[ww * wh];
        for (int j = 0; j < wh; j++)
            for (int i = 0; i < ww; i++)
            {
                int k = (y0 + j) * w + (x0 + i), o = j * ww + i;
                use[o] = label[k] == -1 || label[k] == index;
                // Unlabelled pixels (white, or a speck too small to be an object) are observed as empty.
                if (label[k] != index || norm <= 0) continue;
                double a = ((255 - px[3 * k]) * dr + (255 - px[3 * k + 1]) * dg + (255 - px[3 * k + 2]) * db) / norm;
                observed[o] = Math.Clamp(a, 0, 1);
            }

        var fitter = new ShapeFitter(observed, use, x0, y0, ww, wh);
        var fits = Palette.Shapes.Select(fitter.Fit).ToList();
        var best = fits.MinBy(f => f.Error);

        string? issue = null;
        if (distance > ColorTolerance)
            issue = ColorIssue(rgb, nearest);
        else if (MixedShare < MixedFraction(pixels, px, nearest))
            issue = "mixed colours, probably merged objects";
        else if (!(best.Error <= FitTolerance))
            issue = $"unrecognisable shape (closest: {best.Shape.Word()}, fit error {best.Error:0.00})";

        return new DetectedObject(
            issue is null ? nearest : null,
            issue is null ? best.Shape : null,
            best.X, best.Y, best.Size, box, pixels.Count, rgb, distance, best.Error, issue);
    }

    static int Ink(byte[] px, int k) => 255 - Math.Min(px[3 * k], Math.Min(px[3 * k + 1], px[3 * k + 2]));

    static byte Median(List<int> pixels, byte[] px, int channel)
    {
        var values = pixels.Select(k => px[3 * k + channel]).Order().ToList();
        return values[values.Count / 2];
    }

    public static (ShapeColor Color, double Distance) NearestColor(byte r, byte g, byte b)
    {
        ShapeColor bestColor = default;
        double bestDistance = double.PositiveInfinity;
        foreach (var c in Palette.Colors)
        {
            var (pr, pg, pb) = c.Rgb();
            double d = Math.Sqrt((r - pr) * (r - pr) + (g - pg) * (g - pg) + (b - pb) * (b - pb));
            if (d < bestDistance) { bestDistance = d; bestColor = c; }
        }
        return (bestColor, bestDistance);
    }

    /// <summary>Names an off-palette colour; a palette colour blended towards white reads as "faded".</summary>
    static string ColorIssue((byte R, byte G, byte B) rgb, ShapeColor nearest)
    {
        foreach (var c in Palette.Colors)
        {
            var (t, off) = AlongWhiteLine(rgb.R, rgb.G, rgb.B, c);
            if (t < 1 && off < ColorTolerance / 2)
                return $"faded {c.Word()} ({(int)Math.Round(100 * t)}% strength, rgb {rgb.R},{rgb.G},{rgb.B})";
        }
        return $"off-palette colour rgb {rgb.R},{rgb.G},{rgb.B} (nearest {nearest.Word()})";
    }

    /// <summary>Position t of a pixel on the line white (t=0) to a palette colour (t=1), and its distance from that line.</summary>
    static (double T, double Off) AlongWhiteLine(double r, double g, double b, ShapeColor color)
    {
        var (cr, cg, cb) = color.Rgb();
        double dr = 255 - cr, dg = 255 - cg, db = 255 - cb;
        double vr = 255 - r, vg = 255 - g, vb = 255 - b;
        double t = (vr * dr + vg * dg + vb * db) / (dr * dr + dg * dg + db * db);
        double er = vr - t * dr, eg = vg - t * dg, eb = vb - t * db;
        return (t, Math.Sqrt(er * er + eg * eg + eb * eb));
    }

    /// <summary>Share of solid pixels whose colour lies closer to another palette colour's line than to <paramref name="color"/>'s.</summary>
    static double MixedFraction(List<int> pixels, byte[] px, ShapeColor color)
    {
        int solid = 0, other = 0;
        foreach (int k in pixels)
        {
            if (Ink(px, k) < CoreInk) continue;
            solid++;
            ShapeColor closest = color;
            double closestOff = double.PositiveInfinity;
            foreach (var c in Palette.Colors)
            {
                var (_, off) = AlongWhiteLine(px[3 * k], px[3 * k + 1], px[3 * k + 2], c);
                if (off < closestOff) { closestOff = off; closest = c; }
            }
            if (closest != color) other++;
        }
        return solid == 0 ? 0 : (double)other / solid;
    }

    /// <summary>The evaluator's images are 64 x 64; anything else is refused with a clear message.</summary>
    public static void CheckSize(RgbImage image, string field)
    {
        if (image.Width != Scene.Canvas || image.Height != Scene.Canvas)
            throw new InputException(field, $"image is {image.Width}x{image.Height}; the Shapes evaluator expects {Scene.Canvas}x{Scene.Canvas} (resize it first)");
    }
}
