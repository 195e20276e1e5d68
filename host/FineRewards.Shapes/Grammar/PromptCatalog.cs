using System.Security.Cryptography;
using System.Text;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Grammar;

public enum PromptSplit { Train, Validation, Test }

/// <summary>
/// Every prompt of every task, and a fixed train / validation / test split of them.
/// Counts: single 15, two objects 210 (ordered pairs of different objects), counting 45, position 840.
/// The split is stratified per task: prompts are ordered by SHA-256 of "shapes-split-v1:" + text,
/// the first 10% (rounded, at least one) go to test, the next 10% to validation, the rest (about 80%)
/// to train. It depends only on the text, so it is the same on every machine and run.
/// </summary>
public static class PromptCatalog
{
    public const double TestFraction = 0.1;
    public const double ValidationFraction = 0.1;
    const string SplitSalt = "shapes-split-v1:";

    static IEnumerable<(ShapeColor Color, ShapeKind Shape)> Objects =>
        Palette.Colors.SelectMany(c => Palette.Shapes.Select(s => (c, s)));

    public static IReadOnlyList<PromptSpec> All(PromptTask task) => task switch
    {
        PromptTask.Single => Objects.Select(o => PromptSpec.Single(o.Color, o.Shape)).ToList(),
        PromptTask.Counting => Enumerable.Range(2, 3).SelectMany(n => Objects.Select(o => PromptSpec.Counting(n, o.Color, o.Shape))).ToList(),
        PromptTask.TwoObjects => Pairs().Select(p => PromptSpec.TwoObjects(p.A.Color, p.A.Shape, p.B.Color, p.B.Shape)).ToList(),
        PromptTask.Position => Pairs().SelectMany(p => PromptWords.Relations.Select(r => PromptSpec.Position(p.A.Color, p.A.Shape, r, p.B.Color, p.B.Shape))).ToList(),
        _ => throw new ArgumentOutOfRangeException(nameof(task), $"{task} has no prompts"),
    };

    public static IReadOnlyList<PromptSpec> All() => PromptWords.Tasks.SelectMany(All).ToList();

    static IEnumerable<((ShapeColor Color, ShapeKind Shape) A, (ShapeColor Color, ShapeKind Shape) B)> Pairs() =>
        Objects.SelectMany(a => Objects.Where(b => b != a).Select(b => (a, b)));

    /// <summary>The prompts of one task in one split, in catalogue order.</summary>
    public static IReadOnlyList<PromptSpec> Split(PromptTask task, PromptSplit split)
    {
        var all = All(task);
        int n = all.Count;
        int test = Math.Max(1, (int)Math.Round(n * TestFraction, MidpointRounding.AwayFromZero));
        int validation = Math.Max(1, (int)Math.Round(n * ValidationFraction, MidpointRounding.AwayFromZero));
        var ranked = all.Select((p, i) => (Prompt: p, Index: i, Key: SplitKey(p.Text)))
            .OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        var chosen = split switch
        {
            PromptSplit.Test => ranked.Take(test),
            PromptSplit.Validation => ranked.Skip(test).Take(validation),
            PromptSplit.Train => ranked.Skip(test + validation),
            _ => throw new ArgumentOutOfRangeException(nameof(split)),
        };
        return chosen.OrderBy(x => x.Index).Select(x => x.Prompt).ToList();
    }

    public static IReadOnlyList<PromptSpec> Split(PromptSplit split) => PromptWords.Tasks.SelectMany(t => Split(t, split)).ToList();

    public static PromptSplit SplitOf(PromptSpec prompt)
    {
        foreach (var split in Enum.GetValues<PromptSplit>())
            if (Split(prompt.Task, split).Contains(prompt)) return split;
        throw new ArgumentException($"\"{prompt.Text}\" is not a catalogue prompt", nameof(prompt));
    }

    static string SplitKey(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(SplitSalt + text)));

    public static string Key(this PromptSplit split) => split switch
    {
        PromptSplit.Train => "train",
        PromptSplit.Validation => "validation",
        PromptSplit.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>Writes one prompt per line (UTF-8, '\n', final newline), atomically.</summary>
    public static void WritePromptsFile(string path, IEnumerable<PromptSpec> prompts) =>
        AtomicFile.WriteAllText(path, string.Concat(prompts.Select(p => p.Text + "\n")));
}
