using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Shapes.World;

/// <summary>The five colours of the Shapes world; the names are the words prompts use.</summary>
public enum ShapeColor { Red, Green, Blue, Yellow, Purple }

/// <summary>The three shapes; a triangle is isosceles, apex up, base = height.</summary>
public enum ShapeKind { Circle, Square, Triangle }

/// <summary>Exact fill values and the words for colours and shapes (spec, "Images").</summary>
public static class Palette
{
    public static readonly IReadOnlyList<ShapeColor> Colors = Enum.GetValues<ShapeColor>();
    public static readonly IReadOnlyList<ShapeKind> Shapes = Enum.GetValues<ShapeKind>();

    public static (byte R, byte G, byte B) Rgb(this ShapeColor color) => color switch
    {
        ShapeColor.Red => (220, 40, 40),
        ShapeColor.Green => (40, 160, 60),
        ShapeColor.Blue => (40, 80, 220),
        ShapeColor.Yellow => (240, 200, 30),
        ShapeColor.Purple => (150, 50, 190),
        _ => throw new ArgumentOutOfRangeException(nameof(color)),
    };

    public static string Word(this ShapeColor color) => color.ToString().ToLowerInvariant();

    public static string Word(this ShapeKind shape) => shape.ToString().ToLowerInvariant();

    public static string Plural(this ShapeKind shape) => shape.Word() + "s";

    public static bool TryParseColor(string word, out ShapeColor color)
    {
        foreach (var c in Colors)
            if (c.Word() == word) { color = c; return true; }
        color = default;
        return false;
    }

    public static bool TryParseShape(string word, out ShapeKind shape)
    {
        foreach (var s in Shapes)
            if (s.Word() == word) { shape = s; return true; }
        shape = default;
        return false;
    }

    public static ShapeColor ParseColor(string word, string field = "color") =>
        TryParseColor(word, out var c) ? c : throw new InputException(field, $"\"{word}\" is not a colour; expected one of {string.Join(", ", Colors.Select(x => x.Word()))}");

    public static ShapeKind ParseShape(string word, string field = "shape") =>
        TryParseShape(word, out var s) ? s : throw new InputException(field, $"\"{word}\" is not a shape; expected one of {string.Join(", ", Shapes.Select(x => x.Word()))}");
}
