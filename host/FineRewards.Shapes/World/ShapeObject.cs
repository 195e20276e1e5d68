namespace FineRewards.Shapes.World;

/// <summary>
/// One filled shape. (<paramref name="X"/>, <paramref name="Y"/>) is the centre of its bounding box in
/// pixels (x right, y down, pixel i covers [i, i+1)); <paramref name="Size"/> is the box side:
/// a circle's diameter, a square's side, a triangle's base and height.
/// </summary>
public sealed record ShapeObject(ShapeColor Color, ShapeKind Shape, double X, double Y, double Size)
{
    public double Left => X - Size / 2;
    public double Right => X + Size / 2;
    public double Top => Y - Size / 2;
    public double Bottom => Y + Size / 2;

    /// <summary>"red circle": the words for its (colour, shape) pair.</summary>
    public string Name => $"{Color.Word()} {Shape.Word()}";

    /// <summary>The larger of the gaps between the two boxes along x and along y (negative when they overlap on both).</summary>
    public double GapTo(ShapeObject other)
    {
        double gapX = Math.Max(other.Left - Right, Left - other.Right);
        double gapY = Math.Max(other.Top - Bottom, Top - other.Bottom);
        return Math.Max(gapX, gapY);
    }
}
