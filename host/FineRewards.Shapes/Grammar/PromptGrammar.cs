using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Grammar;

/// <summary>
/// The one grammar of prompts and captions:
///   prompt    := group ( relation "a" colour shape | ("and" group)* )
///   group     := "a" colour shape | ("two"|"three"|"four") colour shape "s"
///   relation  := "to the left of" | "to the right of" | "above" | "below"
/// Words are lower case, separated by single spaces, no final period.
/// </summary>
public static class PromptGrammar
{
    public static string Generate(PromptSpec spec)
    {
        Check(spec);
        var groups = spec.Groups.Select(GroupText).ToList();
        return spec.Task == PromptTask.Position
            ? $"{groups[0]} {spec.Relation!.Value.Words()} {groups[1]}"
            : string.Join(" and ", groups);
    }

    static string GroupText(ObjectGroup g) => g.Count == 1
        ? $"a {g.Color.Word()} {g.Shape.Word()}"
        : $"{PromptWords.NumberWord(g.Count)} {g.Color.Word()} {g.Shape.Plural()}";

    /// <summary>Parses one of the four prompt tasks; captions of composite scenes are refused.</summary>
    public static PromptSpec Parse(string text, string field = "prompt") => Parse(text, field, allowComposite: false);

    /// <summary>Parses a prompt or any canonical caption, composite ones included.</summary>
    public static PromptSpec ParseCaption(string text, string field = "caption") => Parse(text, field, allowComposite: true);

    static PromptSpec Parse(string text, string field, bool allowComposite)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var reader = new WordReader(words, text, field);
        if (words.Length == 0) reader.Fail("the text is empty; expected e.g. \"a red circle\"");

        var groups = new List<ObjectGroup> { ReadGroup(reader) };
        PromptSpec spec;
        if (reader.AtEnd)
        {
            spec = groups[0].Count == 1
                ? new PromptSpec(PromptTask.Single, groups)
                : new PromptSpec(PromptTask.Counting, groups);
        }
        else if (reader.Peek == "and")
        {
            while (!reader.AtEnd)
            {
                reader.Expect("and");
                groups.Add(ReadGroup(reader));
            }
            bool twoObjects = groups.Count == 2 && groups.All(g => g.Count == 1);
            if (!twoObjects && !allowComposite)
                reader.Fail($"names {groups.Count} groups ({string.Join(", ", groups.Select(GroupText))}); a prompt joins exactly two single objects with \"and\"");
            spec = new PromptSpec(twoObjects ? PromptTask.TwoObjects : PromptTask.Composite, groups);
        }
        else
        {
            var relation = ReadRelation(reader);
            if (groups[0].Count != 1)
                throw new InputException(field, $"\"{text}\": a relation needs one object before it, found \"{GroupText(groups[0])}\"");
            reader.Expect("a");
            groups.Add(ReadColourShape(reader, 1));
            if (!reader.AtEnd) reader.Fail($"unexpected \"{reader.Peek}\" after the second object (word {reader.Position + 1})");
            spec = new PromptSpec(PromptTask.Position, groups, relation);
        }
        CheckDistinct(spec, text, field);
        return spec;
    }

    static ObjectGroup ReadGroup(WordReader reader)
    {
        string word = reader.Next("\"a\" or a number word (two, three, four)");
        if (word == "a") return ReadColourShape(reader, 1);
        int index = PromptWords.NumberWords.ToList().IndexOf(word);
        if (index < 0) reader.Fail($"expected \"a\" or a number word (two, three, four) at word {reader.Position}, found \"{word}\"");
        return ReadColourShape(reader, index + 2);
    }

    static ObjectGroup ReadColourShape(WordReader reader, int count)
    {
        string colourWord = reader.Next("a colour");
        if (!Palette.TryParseColor(colourWord, out var colour))
            reader.Fail($"expected a colour ({string.Join(", ", Palette.Colors.Select(c => c.Word()))}) at word {reader.Position}, found \"{colourWord}\"");
        string shapeWord = reader.Next(count == 1 ? "a shape" : "a plural shape");
        ShapeKind shape = default;
        bool known = count == 1
            ? Palette.TryParseShape(shapeWord, out shape)
            : shapeWord.EndsWith('s') && Palette.TryParseShape(shapeWord[..^1], out shape);
        if (!known)
        {
            string expected = count == 1
                ? string.Join(", ", Palette.Shapes.Select(s => s.Word()))
                : string.Join(", ", Palette.Shapes.Select(s => s.Plural()));
            string hint = count == 1 && shapeWord.EndsWith('s') && Palette.TryParseShape(shapeWord[..^1], out _) ? " (a single object takes the singular)"
                : count > 1 && Palette.TryParseShape(shapeWord, out _) ? $" (a count of {count} takes the plural)" : "";
            reader.Fail($"expected {(count == 1 ? "a shape" : "a plural shape")} ({expected}) at word {reader.Position}, found \"{shapeWord}\"{hint}");
        }
        return new ObjectGroup(colour, shape, count);
    }

    static Relation ReadRelation(WordReader reader)
    {
        string word = reader.Next("\"and\" or a relation");
        switch (word)
        {
            case "above": return Relation.Above;
            case "below": return Relation.Below;
            case "to":
                reader.Expect("the");
                string side = reader.Next("\"left\" or \"right\"");
                if (side != "left" && side != "right") reader.Fail($"expected \"left\" or \"right\" at word {reader.Position}, found \"{side}\"");
                reader.Expect("of");
                return side == "left" ? Relation.LeftOf : Relation.RightOf;
            default:
                reader.Fail($"expected \"and\", \"to the left of\", \"to the right of\", \"above\" or \"below\" at word {reader.Position}, found \"{word}\"");
                return default;
        }
    }

    static void CheckDistinct(PromptSpec spec, string text, string field)
    {
        var seen = new HashSet<(ShapeColor, ShapeKind)>();
        foreach (var g in spec.Groups)
            if (!seen.Add(g.Key))
                throw new InputException(field, $"\"{text}\": names \"{g.Name}\" twice; the objects of a prompt must differ in colour or shape");
    }

    /// <summary>Checks a hand-built spec against the grammar's rules.</summary>
    static void Check(PromptSpec spec)
    {
        int n = spec.Groups.Count;
        bool ok = spec.Task switch
        {
            PromptTask.Single => n == 1 && spec.Groups[0].Count == 1,
            PromptTask.Counting => n == 1 && spec.Groups[0].Count is >= 2 and <= 4,
            PromptTask.TwoObjects => n == 2 && spec.Groups.All(g => g.Count == 1),
            PromptTask.Position => n == 2 && spec.Groups.All(g => g.Count == 1) && spec.Relation is not null,
            PromptTask.Composite => n >= 2 && spec.Groups.All(g => g.Count is >= 1 and <= 4),
            _ => false,
        };
        if (ok && spec.Task != PromptTask.Position) ok = spec.Relation is null;
        if (ok) ok = spec.Groups.Select(g => g.Key).Distinct().Count() == n;
        if (!ok) throw new ArgumentException($"not a valid {spec.Task} prompt: {spec.Groups.Count} groups, relation {spec.Relation?.ToString() ?? "none"}", nameof(spec));
    }

    /// <summary>Walks the words, producing errors that quote the text and say what came instead.</summary>
    sealed class WordReader(string[] words, string text, string field)
    {
        public int Position { get; private set; }
        public bool AtEnd => Position >= words.Length;
        public string? Peek => AtEnd ? null : words[Position];

        public string Next(string expected)
        {
            if (AtEnd) Fail($"ends early; expected {expected} after \"{string.Join(' ', words)}\"");
            return words[Position++];
        }

        public void Expect(string word)
        {
            string got = Next($"\"{word}\"");
            if (got != word) Fail($"expected \"{word}\" at word {Position}, found \"{got}\"");
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public void Fail(string message) => throw new InputException(field, $"\"{text}\" is not in the Shapes grammar: {message}");
    }
}
