using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Judges;

/// <summary>
/// The default judge on the Shapes pack: deterministic, no model. The prompt is parsed with the world's
/// grammar (an unparseable prompt is an <see cref="InputException"/> naming "prompt"); each label is read
/// for a colour word and a shape word (singular or plural, in any order, other words ignored):
/// <list type="bullet">
/// <item><c>certain</c>: its colour and shape are those of an object the prompt names;</item>
/// <item><c>may</c>: it shares the colour or the shape with a named object (a half-right reading,
/// e.g. "red square" for "a red circle", or a label that names only one of the two, e.g. "circle");</item>
/// <item><c>unlikely</c>: anything else, including labels with no colour or shape word at all.</item>
/// </list>
/// </summary>
public sealed class LexicalLabelJudge : ILabelJudge
{
    public string Name => "lexical";
    public string Version => "lexical-v1";

    public IReadOnlyList<Verdict> Judge(string prompt, IReadOnlyList<string> labels, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException("prompt", "is empty; expected a Shapes prompt such as \"a red circle\"");
        var named = PromptGrammar.Parse(prompt.Trim().ToLowerInvariant(), "prompt").Groups.Select(g => g.Key).ToList();
        return labels.Select(label => Judge(named, label)).ToList();
    }

    static Verdict Judge(IReadOnlyList<(ShapeColor Color, ShapeKind Shape)> named, string label)
    {
        var (color, shape) = Read(label);
        if (color is ShapeColor c && shape is ShapeKind s && named.Contains((c, s))) return Verdict.Certain;
        if ((color is ShapeColor c2 && named.Any(n => n.Color == c2)) || (shape is ShapeKind s2 && named.Any(n => n.Shape == s2))) return Verdict.May;
        return Verdict.Unlikely;
    }

    /// <summary>The colour and shape words of a label ("red circle", "Red  Circles", "circle"), when present.</summary>
    public static (ShapeColor? Color, ShapeKind? Shape) Read(string label)
    {
        ShapeColor? color = null;
        ShapeKind? shape = null;
        foreach (var word in label.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (color is null && Palette.TryParseColor(word, out var c)) color = c;
            else if (shape is null && (Palette.TryParseShape(word, out var s) || (word.EndsWith('s') && Palette.TryParseShape(word[..^1], out s)))) shape = s;
        }
        return (color, shape);
    }
}

/// <summary>The objects a Shapes prompt asks for, from the grammar (for the segment reward's optional coverage term).</summary>
public sealed class ShapesPromptLabels : IPromptLabels
{
    /// <returns>One entry per (colour, shape) with its count, or null when the prompt is not in the grammar.</returns>
    public IReadOnlyList<ExpectedObject>? Expected(string prompt)
    {
        try
        {
            return PromptGrammar.Parse(prompt.Trim().ToLowerInvariant()).Groups.Select(g => new ExpectedObject(g.Name, g.Count)).ToList();
        }
        catch (InputException)
        {
            return null;
        }
    }
}
