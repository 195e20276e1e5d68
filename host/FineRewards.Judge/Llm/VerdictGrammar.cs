using System.Text;
using FineRewards.Contracts;

namespace FineRewards.Judge.Llm;

/// <summary>
/// The answer format of the label judge: one numbered line per label, in order, each exactly one verdict word:
/// "1: certain\n2: may\n". The GBNF grammar allows nothing else, so the answer parses without guesswork.
/// </summary>
public static class VerdictGrammar
{
    /// <summary>GBNF for exactly <paramref name="count"/> numbered verdict lines.</summary>
    public static string Gbnf(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), "a query needs at least one label");
        var root = new StringBuilder("root ::=");
        for (int i = 1; i <= count; i++) root.Append($" \"{i}: \" verdict \"\\n\"");
        return root + "\nverdict ::= \"certain\" | \"may\" | \"unlikely\"\n";
    }

    /// <summary>Bytes of the longest answer the grammar allows: every token is at least one byte, so this bounds the tokens.</summary>
    public static int MaxAnswerBytes(int count) =>
        Enumerable.Range(1, count).Sum(i => Encoding.UTF8.GetByteCount($"{i}: unlikely\n"));

    /// <summary>Whole lines present so far; the judge stops generating once all are there.</summary>
    public static int CompleteLines(string text) => text.Count(c => c == '\n');

    /// <summary>Reads an answer in the grammar's format; anything else is an error that quotes the answer.</summary>
    public static IReadOnlyList<Verdict> Parse(string answer, int count)
    {
        var lines = answer.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length != count) throw new FormatException($"expected {count} verdict lines, got {lines.Length}: \"{answer}\"");
        var verdicts = new List<Verdict>(count);
        for (int i = 0; i < count; i++)
        {
            string prefix = $"{i + 1}: ";
            if (!lines[i].StartsWith(prefix, StringComparison.Ordinal))
                throw new FormatException($"line {i + 1} should start with \"{prefix}\": \"{lines[i]}\"");
            verdicts.Add(VerdictValues.Parse(lines[i][prefix.Length..]));
        }
        return verdicts;
    }
}
