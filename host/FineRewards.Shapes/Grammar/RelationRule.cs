namespace FineRewards.Shapes.Grammar;

/// <summary>The spec's relation test on bounding-box centres (x right, y down).</summary>
public static class RelationRule
{
    /// <summary>Centres must be at least this far apart along the relation's axis.</summary>
    public const double Margin = 4;
    /// <summary>The evaluator measures fitted centres, so a relation within 1/8 px of the margin still holds.</summary>
    public const double Tolerance = 1.0 / 8;

    /// <summary>How far "A {relation} B" exceeds the margin; it holds when this is &gt;= 0 (or &gt;= -tolerance).</summary>
    public static double Slack(Relation relation, double ax, double ay, double bx, double by) => relation switch
    {
        Relation.LeftOf => bx - ax - Margin,
        Relation.RightOf => ax - bx - Margin,
        Relation.Above => by - ay - Margin,
        Relation.Below => ay - by - Margin,
        _ => throw new ArgumentOutOfRangeException(nameof(relation)),
    };

    public static bool Holds(Relation relation, double ax, double ay, double bx, double by, double tolerance = 0) =>
        Slack(relation, ax, ay, bx, by) >= -tolerance;
}
