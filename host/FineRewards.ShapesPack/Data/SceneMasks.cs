using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Data;

/// <summary>
/// Which object covers each pixel of a spec render, decided at the pixel centre: the segmenter's
/// training target and the ground truth its masks are measured against. Scenes never overlap, so a
/// pixel belongs to at most one object.
/// </summary>
public static class SceneMasks
{
    /// <summary>Class 0 is background; an object of colour c and shape s is 1 + c * 3 + s.</summary>
    public const int Classes = 1 + 5 * 3;

    public static int ClassOf(ShapeColor color, ShapeKind shape) => 1 + (int)color * Palette.Shapes.Count + (int)shape;

    /// <summary>"red circle" for a class index (1..15).</summary>
    public static string LabelOf(int cls)
    {
        if (cls is < 1 or >= Classes) throw new ArgumentOutOfRangeException(nameof(cls), $"class {cls} is not an object class (1..{Classes - 1})");
        var color = (ShapeColor)((cls - 1) / Palette.Shapes.Count);
        var shape = (ShapeKind)((cls - 1) % Palette.Shapes.Count);
        return $"{color.Word()} {shape.Word()}";
    }

    /// <returns>Per pixel (row-major, Canvas x Canvas) the index of the covering object, or -1.</returns>
    public static int[] InstanceMap(IReadOnlyList<ShapeObject> objects)
    {
        int n = Scene.Canvas;
        var map = new int[n * n];
        Array.Fill(map, -1);
        for (int k = 0; k < objects.Count; k++)
        {
            var o = objects[k];
            int x0 = Math.Max(0, (int)Math.Floor(o.Left)), x1 = Math.Min(n - 1, (int)Math.Ceiling(o.Right));
            int y0 = Math.Max(0, (int)Math.Floor(o.Top)), y1 = Math.Min(n - 1, (int)Math.Ceiling(o.Bottom));
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                    if (Covers(o, x + 0.5, y + 0.5)) map[y * n + x] = k;
        }
        return map;
    }

    /// <returns>Per pixel the class (0 = background) of the covering object.</returns>
    public static int[] ClassMap(IReadOnlyList<ShapeObject> objects)
    {
        var instances = InstanceMap(objects);
        var classes = new int[instances.Length];
        for (int i = 0; i < instances.Length; i++)
            classes[i] = instances[i] < 0 ? 0 : ClassOf(objects[instances[i]].Color, objects[instances[i]].Shape);
        return classes;
    }

    static bool Covers(ShapeObject o, double px, double py)
    {
        double h = o.Size / 2, dx = px - o.X, dy = py - o.Y;
        return o.Shape switch
        {
            ShapeKind.Circle => dx * dx + dy * dy <= h * h,
            ShapeKind.Square => Math.Abs(dx) <= h && Math.Abs(dy) <= h,
            // Apex (x, y - h), base on y + h: the half-width grows by 1/2 per pixel of depth below the apex.
            ShapeKind.Triangle => dy >= -h && dy <= h && Math.Abs(dx) <= (dy + h) / 2,
            _ => throw new ArgumentOutOfRangeException(nameof(o)),
        };
    }
}
