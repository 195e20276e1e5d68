using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Grammar;

/// <summary>An object as the caption rules see it: what it is and where its box centre lies.</summary>
public readonly record struct PlacedObject(ShapeColor Color, ShapeKind Shape, double X, double Y);

/// <summary>
/// The canonical caption of a scene (spec, "Prompts"). Objects are read left to right, then top to
/// bottom; that reading order picks object A of a position caption and the order of composite groups.
/// </summary>
public static class SceneCaption
{
    public static PromptSpec Describe(Scene scene) =>
        Describe(scene.Objects.Select(o => new PlacedObject(o.Color, o.Shape, o.X, o.Y)).ToList());

    public static string Caption(Scene scene) => Describe(scene).Text;

    public static PromptSpec Describe(IReadOnlyList<PlacedObject> objects)
    {
        if (objects.Count == 0) throw new ArgumentException("a caption needs at least one object", nameof(objects));
        var ordered = objects.OrderBy(o => o.X).ThenBy(o => o.Y).ToList();
        var groups = ordered.GroupBy(o => (o.Color, o.Shape))   // GroupBy keeps first-appearance order
            .Select(g => new ObjectGroup(g.Key.Color, g.Key.Shape, g.Count())).ToList();

        if (groups.Count == 1)
            return groups[0].Count == 1 ? new PromptSpec(PromptTask.Single, groups) : new PromptSpec(PromptTask.Counting, groups);
        if (ordered.Count == 2)
        {
            var (a, b) = (ordered[0], ordered[1]);
            double dx = b.X - a.X, dy = b.Y - a.Y;   // dx >= 0: A is first left to right
            Relation relation = Math.Abs(dx) >= Math.Abs(dy)
                ? Relation.LeftOf
                : dy > 0 ? Relation.Above : Relation.Below;
            return new PromptSpec(PromptTask.Position, groups, relation);
        }
        return new PromptSpec(PromptTask.Composite, groups);
    }
}
