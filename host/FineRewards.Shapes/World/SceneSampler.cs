using FineRewards.Shapes.Grammar;

namespace FineRewards.Shapes.World;

/// <summary>
/// Draws random scenes that a prompt describes exactly: the objects it names and nothing else, sizes
/// uniform in [10, 18], fractional positions uniform inside the canvas, boxes 2 px apart, and for
/// position prompts the relation with its full 4 px margin. All randomness comes from the given
/// <see cref="Random"/>, so a seeded one gives the same scene every run.
/// </summary>
public static class SceneSampler
{
    const int MaxAttempts = 10_000;

    public static Scene Sample(PromptSpec spec, int seed) => Sample(spec, new Random(seed));

    public static Scene Sample(PromptSpec spec, Random random)
    {
        var wanted = spec.Groups.SelectMany(g => Enumerable.Repeat((g.Color, g.Shape), g.Count)).ToList();
        if (wanted.Count is < 1 or > Scene.MaxObjects)
            throw new ArgumentException($"a scene holds 1 to {Scene.MaxObjects} objects; \"{spec.Text}\" asks for {wanted.Count}", nameof(spec));
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var placed = TryPlace(wanted, random);
            if (placed is null) continue;
            if (spec.Relation is Relation relation &&
                !RelationRule.Holds(relation, placed[0].X, placed[0].Y, placed[1].X, placed[1].Y)) continue;
            return new Scene(placed);
        }
        throw new InvalidOperationException($"could not place \"{spec.Text}\" in {MaxAttempts} attempts");
    }

    /// <summary>A scene of <paramref name="count"/> objects of random colours and shapes (repeats allowed).</summary>
    public static Scene RandomScene(int count, Random random)
    {
        var wanted = Enumerable.Range(0, count)
            .Select(_ => (Palette.Colors[random.Next(Palette.Colors.Count)], Palette.Shapes[random.Next(Palette.Shapes.Count)]))
            .ToList();
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
            if (TryPlace(wanted, random) is { } placed) return new Scene(placed);
        throw new InvalidOperationException($"could not place {count} objects");
    }

    /// <summary>Places objects one by one with a few tries each; null when the canvas got too crowded.</summary>
    static List<ShapeObject>? TryPlace(IReadOnlyList<(ShapeColor Color, ShapeKind Shape)> wanted, Random random)
    {
        var placed = new List<ShapeObject>();
        foreach (var (color, shape) in wanted)
        {
            ShapeObject? next = null;
            for (int tries = 0; tries < 50 && next is null; tries++)
            {
                double size = Scene.MinSize + random.NextDouble() * (Scene.MaxSize - Scene.MinSize);
                double x = size / 2 + random.NextDouble() * (Scene.Canvas - size);
                double y = size / 2 + random.NextDouble() * (Scene.Canvas - size);
                var candidate = new ShapeObject(color, shape, x, y, size);
                if (placed.All(p => p.GapTo(candidate) >= Scene.MinGap)) next = candidate;
            }
            if (next is null) return null;
            placed.Add(next);
        }
        return placed;
    }
}
