using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Shapes.World;

/// <summary>A Shapes-world image before rendering: 1 to 4 objects on a white 64 x 64 canvas.</summary>
public sealed record Scene
{
    public const int Canvas = 64;
    public const double MinSize = 10;
    public const double MaxSize = 18;
    /// <summary>Boxes must be at least this far apart along x or along y, so objects never touch.</summary>
    public const double MinGap = 2;
    public const int MaxObjects = 4;

    public IReadOnlyList<ShapeObject> Objects { get; }

    /// <summary>Builds a scene and checks every rule of the spec; a broken rule throws <see cref="InputException"/>.</summary>
    public Scene(IReadOnlyList<ShapeObject> objects)
    {
        Objects = objects.ToArray();
        Validate(Objects);
    }

    public static void Validate(IReadOnlyList<ShapeObject> objects)
    {
        if (objects.Count is < 1 or > MaxObjects)
            throw new InputException("scene", $"has {objects.Count} objects; expected 1 to {MaxObjects}");
        for (int i = 0; i < objects.Count; i++)
        {
            var o = objects[i];
            string field = $"scene.objects[{i}]";
            if (!double.IsFinite(o.X) || !double.IsFinite(o.Y) || !double.IsFinite(o.Size))
                throw new InputException(field, "position and size must be finite numbers");
            if (o.Size < MinSize || o.Size > MaxSize)
                throw new InputException(field, $"size {o.Size:0.###} is outside {MinSize}..{MaxSize} pixels");
            if (o.Left < 0 || o.Top < 0 || o.Right > Canvas || o.Bottom > Canvas)
                throw new InputException(field, $"box [{o.Left:0.###}, {o.Right:0.###}] x [{o.Top:0.###}, {o.Bottom:0.###}] is not inside the {Canvas} x {Canvas} canvas");
            if (!Enum.IsDefined(o.Color) || !Enum.IsDefined(o.Shape))
                throw new InputException(field, "unknown colour or shape");
            for (int j = 0; j < i; j++)
                if (objects[j].GapTo(o) < MinGap)
                    throw new InputException(field, $"box is closer than {MinGap} pixels to objects[{j}] along both x and y");
        }
    }
}
