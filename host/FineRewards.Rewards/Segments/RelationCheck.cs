using FineRewards.Contracts;

namespace FineRewards.Rewards.Segments;

/// <summary>
/// Checks a prompt's spatial relations on one image's labelled segments. Each side of a relation is the most
/// confident segment whose label is the side's object phrase (compared as <see cref="SegmentReward.NormalizeLabel"/>
/// forms); the relation holds when the box centres are apart by at least the margin along its axis, the rule the
/// Shapes world's ground truth uses (4 px on 64 px images = 1/16 of the side).
/// </summary>
public static class RelationCheck
{
    /// <summary>The verdict's value in the relation term, on the scale of eq. 5's label verdicts: a missing side
    /// costs as much as a wrong placement, since neither image shows what the prompt asked for.</summary>
    public static double Value(this RelationVerdict verdict) => verdict == RelationVerdict.Holds ? 0.5 : -0.5;

    /// <param name="marginFraction">The margin as a fraction of the image's width (x relations) or height (y relations).</param>
    public static JudgedRelation Judge(PromptRelation relation, IReadOnlyList<Segment> segments, double marginFraction)
    {
        string subject = SegmentReward.NormalizeLabel(relation.Subject), obj = SegmentReward.NormalizeLabel(relation.Object);
        int? s = MostConfident(segments, subject, exclude: null);
        // A relation between two objects of the same label needs two segments.
        int? o = MostConfident(segments, obj, exclude: subject == obj ? s : null);
        if (s is not int si || o is not int oi) return new JudgedRelation(relation, RelationVerdict.Missing, s, o, s is int a ? segments[a].Box : null, o is int b ? segments[b].Box : null);

        var (sb, ob) = (segments[si].Box, segments[oi].Box);
        bool horizontal = relation.Relation is SpatialRelation.LeftOf or SpatialRelation.RightOf;
        var mask = segments[si].Mask;
        double margin = marginFraction * (horizontal ? mask.Width : mask.Height);
        double slack = Slack(relation.Relation, Centre(sb), Centre(ob), margin);
        return new JudgedRelation(relation, slack >= 0 ? RelationVerdict.Holds : RelationVerdict.Violated, si, oi, sb, ob, slack);
    }

    static (double X, double Y) Centre(Box b) => (b.X + b.Width / 2, b.Y + b.Height / 2);

    /// <summary>How far the centres exceed the margin along the relation's axis (x right, y down); negative: short of it.</summary>
    public static double Slack(SpatialRelation relation, (double X, double Y) a, (double X, double Y) b, double margin) => relation switch
    {
        SpatialRelation.LeftOf => b.X - a.X - margin,
        SpatialRelation.RightOf => a.X - b.X - margin,
        SpatialRelation.Above => b.Y - a.Y - margin,
        SpatialRelation.Below => a.Y - b.Y - margin,
        _ => throw new ArgumentOutOfRangeException(nameof(relation)),
    };

    static int? MostConfident(IReadOnlyList<Segment> segments, string label, int? exclude)
    {
        int? best = null;
        for (int i = 0; i < segments.Count; i++)
            if (i != exclude && SegmentReward.NormalizeLabel(segments[i].Label) == label && (best is null || segments[i].Confidence > segments[best.Value].Confidence))
                best = i;
        return best;
    }
}
