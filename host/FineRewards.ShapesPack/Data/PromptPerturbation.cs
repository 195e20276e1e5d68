using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Data;

/// <summary>What a perturbation changed.</summary>
public enum PerturbationKind { Color, Shape, Count, Position }

/// <summary>
/// Near-miss prompts: the same prompt with one fine-grained fact wrong (a colour, a shape, a count, a
/// relation). They are the contrastive model's hard negatives and the wrong renders of the reward
/// sanity benchmark; the paper's rewards exist to tell exactly these apart.
/// </summary>
public static class PromptPerturbation
{
    /// <summary>The benchmark's choice per task: single and two-object prompts get a wrong colour, counting a wrong count, position the opposite relation.</summary>
    public static PerturbationKind ForTask(PromptTask task) => task switch
    {
        PromptTask.Counting => PerturbationKind.Count,
        PromptTask.Position => PerturbationKind.Position,
        _ => PerturbationKind.Color,
    };

    /// <summary>A random applicable perturbation of <paramref name="spec"/> (its text differs from the original).</summary>
    public static PromptSpec Perturb(PromptSpec spec, Random random)
    {
        var kinds = new List<PerturbationKind> { PerturbationKind.Color, PerturbationKind.Shape };
        if (spec.Groups.Any(g => g.Count > 1)) kinds.Add(PerturbationKind.Count);
        if (spec.Relation is not null) kinds.Add(PerturbationKind.Position);
        // Some kinds cannot apply (a red circle, square and triangle have no free shape to swap to red): try the others.
        foreach (var kind in kinds.OrderBy(_ => random.Next()))
        {
            try { return Perturb(spec, kind, random); }
            catch (ArgumentException) { }
        }
        throw new ArgumentException($"\"{spec.Text}\" has no near-miss prompt", nameof(spec));
    }

    public static PromptSpec Perturb(PromptSpec spec, PerturbationKind kind, Random random)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var groups = spec.Groups.ToList();
            int i = random.Next(groups.Count);
            var g = groups[i];
            Relation? relation = spec.Relation;
            switch (kind)
            {
                case PerturbationKind.Color:
                    groups[i] = g with { Color = Other(Palette.Colors, g.Color, random) };
                    break;
                case PerturbationKind.Shape:
                    groups[i] = g with { Shape = Other(Palette.Shapes, g.Shape, random) };
                    break;
                case PerturbationKind.Count:
                    // Any other count that still fits the canvas; "two red circles" may become "a red circle".
                    var counts = Enumerable.Range(1, 4).Where(n => n != g.Count && spec.ObjectCount - g.Count + n <= Scene.MaxObjects).ToList();
                    if (g.Count == 1 || counts.Count == 0) continue;
                    groups[i] = g with { Count = counts[random.Next(counts.Count)] };
                    break;
                case PerturbationKind.Position:
                    if (relation is null) throw new ArgumentException($"\"{spec.Text}\" has no relation to perturb", nameof(spec));
                    relation = relation switch
                    {
                        Relation.LeftOf => Relation.RightOf,
                        Relation.RightOf => Relation.LeftOf,
                        Relation.Above => Relation.Below,
                        _ => Relation.Above,
                    };
                    break;
            }
            if (groups.Select(x => x.Key).Distinct().Count() != groups.Count) continue;
            var task = spec.Task is PromptTask.Position ? PromptTask.Position
                : groups.Count == 1 ? (groups[0].Count == 1 ? PromptTask.Single : PromptTask.Counting)
                : groups.Count == 2 && groups.All(x => x.Count == 1) && spec.Task == PromptTask.TwoObjects ? PromptTask.TwoObjects
                : PromptTask.Composite;
            var result = new PromptSpec(task, groups, relation);
            if (!result.Equals(spec)) return result;
        }
        throw new ArgumentException($"could not perturb \"{spec.Text}\" by {kind}", nameof(spec));
    }

    static T Other<T>(IReadOnlyList<T> all, T current, Random random) where T : struct
    {
        var others = all.Where(x => !x.Equals(current)).ToList();
        return others[random.Next(others.Count)];
    }
}
