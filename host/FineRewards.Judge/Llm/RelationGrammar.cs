using System.Text;
using FineRewards.Contracts;

namespace FineRewards.Judge.Llm;

/// <summary>
/// The answer format of the relation question: one line per relation, "red circle | above | blue square", then a
/// line "end". Objects are one to <see cref="MaxWords"/> lower-case words of at most <see cref="MaxWordLength"/>
/// letters, relations one of the four the reward checks, at most <see cref="MaxRelations"/> lines: the GBNF grammar
/// allows nothing else, so every answer parses and ends within <see cref="MaxAnswerBytes"/> tokens.
/// </summary>
public static class RelationGrammar
{
    public const int MaxRelations = 4;
    public const int MaxWords = 3;
    public const int MaxWordLength = 12;
    public const string End = "end";
    const string Separator = " | ";

    static readonly SpatialRelation[] All = Enum.GetValues<SpatialRelation>();

    public static string Gbnf()
    {
        var g = new StringBuilder();
        g.Append($"root ::= line{{0,{MaxRelations}}} \"{End}\\n\"\n");
        g.Append($"line ::= object \"{Separator}\" relation \"{Separator}\" object \"\\n\"\n");
        g.Append($"object ::= word (\" \" word){{0,{MaxWords - 1}}}\n");
        g.Append($"word ::= [a-z]{{1,{MaxWordLength}}}\n");
        g.Append("relation ::= ").Append(string.Join(" | ", All.Select(r => $"\"{r.Words()}\""))).Append('\n');
        return g.ToString();
    }

    /// <summary>Bytes of the longest answer the grammar allows.</summary>
    public static int MaxAnswerBytes
    {
        get
        {
            int obj = MaxWords * MaxWordLength + MaxWords - 1;
            int line = 2 * obj + 2 * Separator.Length + All.Max(r => r.Words().Length) + 1;
            return MaxRelations * line + End.Length + 1;
        }
    }

    /// <summary>The answer is whole once its last line is "end".</summary>
    public static bool IsComplete(string text) => text.EndsWith("\n", StringComparison.Ordinal) && text.TrimEnd('\n').Split('\n')[^1] == End;

    /// <summary>Reads an answer in the grammar's format; anything else is an error that quotes the answer.</summary>
    public static IReadOnlyList<PromptRelation> Parse(string answer)
    {
        var lines = answer.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || lines[^1] != End) throw new FormatException($"the answer should end with a line \"{End}\": \"{answer}\"");
        var relations = new List<PromptRelation>();
        for (int i = 0; i < lines.Length - 1; i++)
        {
            var parts = lines[i].Split(Separator);
            if (parts.Length != 3 || parts.Any(p => p.Trim().Length == 0))
                throw new FormatException($"line {i + 1} should read \"<object>{Separator}<relation>{Separator}<object>\": \"{lines[i]}\"");
            SpatialRelation relation;
            try { relation = SpatialRelations.Parse(parts[1]); }
            catch (FineRewards.Contracts.InputException e) { throw new FormatException($"line {i + 1}: {e.Message}"); }
            relations.Add(new PromptRelation(parts[0].Trim(), relation, parts[2].Trim()));
        }
        return relations;
    }
}
