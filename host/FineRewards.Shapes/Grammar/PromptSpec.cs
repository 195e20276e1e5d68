using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Grammar;

/// <summary>
/// The four prompt tasks of the spec, plus <see cref="Composite"/>: captions of scenes that fit no
/// template ("two red circles and a blue square"). Composite is a caption form, never a prompt task.
/// </summary>
public enum PromptTask { Single, TwoObjects, Counting, Position, Composite }

/// <summary>Position relations, judged on bounding-box centres with a 4 pixel margin.</summary>
public enum Relation { LeftOf, RightOf, Above, Below }

/// <summary><paramref name="Count"/> objects of one (colour, shape).</summary>
public readonly record struct ObjectGroup(ShapeColor Color, ShapeKind Shape, int Count)
{
    public (ShapeColor, ShapeKind) Key => (Color, Shape);
    public string Name => $"{Color.Word()} {Shape.Word()}";
}

/// <summary>
/// A parsed prompt or caption. Groups are in the order the text names them; for a position prompt
/// Groups[0] is object A and Groups[1] object B of "A {relation} B".
/// </summary>
public sealed record PromptSpec(PromptTask Task, IReadOnlyList<ObjectGroup> Groups, Relation? Relation = null)
{
    public static PromptSpec Single(ShapeColor color, ShapeKind shape) =>
        new(PromptTask.Single, [new(color, shape, 1)]);

    public static PromptSpec TwoObjects(ShapeColor color1, ShapeKind shape1, ShapeColor color2, ShapeKind shape2) =>
        new(PromptTask.TwoObjects, [new(color1, shape1, 1), new(color2, shape2, 1)]);

    public static PromptSpec Counting(int count, ShapeColor color, ShapeKind shape) =>
        new(PromptTask.Counting, [new(color, shape, count)]);

    public static PromptSpec Position(ShapeColor color1, ShapeKind shape1, Relation relation, ShapeColor color2, ShapeKind shape2) =>
        new(PromptTask.Position, [new(color1, shape1, 1), new(color2, shape2, 1)], relation);

    /// <summary>The prompt's text in the canonical grammar.</summary>
    public string Text => PromptGrammar.Generate(this);

    /// <summary>How many objects of each (colour, shape) the prompt asks for.</summary>
    public IReadOnlyDictionary<(ShapeColor, ShapeKind), int> Counts =>
        Groups.GroupBy(g => g.Key).ToDictionary(g => g.Key, g => g.Sum(x => x.Count));

    public int ObjectCount => Groups.Sum(g => g.Count);

    public bool Equals(PromptSpec? other) =>
        other is not null && Task == other.Task && Relation == other.Relation && Groups.SequenceEqual(other.Groups);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Task);
        hash.Add(Relation);
        foreach (var g in Groups) hash.Add(g);
        return hash.ToHashCode();
    }

    public override string ToString() => Text;
}

public static class PromptWords
{
    public static readonly IReadOnlyList<PromptTask> Tasks = [PromptTask.Single, PromptTask.TwoObjects, PromptTask.Counting, PromptTask.Position];
    public static readonly IReadOnlyList<Relation> Relations = Enum.GetValues<Relation>();
    public static readonly IReadOnlyList<string> NumberWords = ["two", "three", "four"];

    /// <summary>Stable names for reports and JSON.</summary>
    public static string Key(this PromptTask task) => task switch
    {
        PromptTask.Single => "single",
        PromptTask.TwoObjects => "two_objects",
        PromptTask.Counting => "counting",
        PromptTask.Position => "position",
        PromptTask.Composite => "composite",
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    public static string Words(this Relation relation) => relation switch
    {
        Relation.LeftOf => "to the left of",
        Relation.RightOf => "to the right of",
        Relation.Above => "above",
        Relation.Below => "below",
        _ => throw new ArgumentOutOfRangeException(nameof(relation)),
    };

    public static string NumberWord(int count) => count switch
    {
        1 => "a",
        >= 2 and <= 4 => NumberWords[count - 2],
        _ => throw new ArgumentOutOfRangeException(nameof(count), $"counts are 1 to 4, got {count}"),
    };
}
