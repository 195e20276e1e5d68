namespace FineRewards.Contracts;

/// <summary>How a label relates to the scene a prompt describes (paper, segment reward).</summary>
public enum Verdict
{
    /// <summary>The prompt's scene certainly contains it: +0.5.</summary>
    Certain,
    /// <summary>It may appear in the scene: 0.</summary>
    May,
    /// <summary>It is unlikely to appear in the scene: -0.5.</summary>
    Unlikely,
}

public static class VerdictValues
{
    public static double Score(this Verdict verdict) => verdict switch
    {
        Verdict.Certain => 0.5,
        Verdict.May => 0.0,
        Verdict.Unlikely => -0.5,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict)),
    };

    public static string Word(this Verdict verdict) => verdict switch
    {
        Verdict.Certain => "certain",
        Verdict.May => "may",
        Verdict.Unlikely => "unlikely",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict)),
    };

    public static Verdict Parse(string word) => word.Trim().ToLowerInvariant() switch
    {
        "certain" => Verdict.Certain,
        "may" => Verdict.May,
        "unlikely" => Verdict.Unlikely,
        _ => throw new InputException("verdict", $"\"{word}\" is not certain, may or unlikely"),
    };
}

/// <summary>Axis-aligned box in pixels, x to the right, y downwards.</summary>
public readonly record struct Box(double X, double Y, double Width, double Height);

/// <summary>A binary mask the size of its image, stored as run lengths for transport and overlays.</summary>
/// <param name="Runs">Alternating run lengths over the row-major pixels, starting with a run of 0s (which may be empty).</param>
public sealed record RunLengthMask(int Width, int Height, IReadOnlyList<int> Runs)
{
    public static RunLengthMask FromBits(int width, int height, ReadOnlySpan<bool> bits)
    {
        if (bits.Length != width * height) throw new ArgumentException($"expected {width * height} mask bits, got {bits.Length}");
        var runs = new List<int>();
        bool current = false;
        int length = 0;
        foreach (bool bit in bits)
        {
            if (bit != current) { runs.Add(length); current = bit; length = 0; }
            length++;
        }
        runs.Add(length);
        return new RunLengthMask(width, height, runs);
    }

    public bool[] ToBits()
    {
        var bits = new bool[Width * Height];
        int at = 0;
        bool value = false;
        foreach (int run in Runs)
        {
            if (run < 0 || at + run > bits.Length) throw new InvalidDataException("mask runs do not fit the mask size");
            if (value) Array.Fill(bits, true, at, run);
            at += run;
            value = !value;
        }
        if (at != bits.Length) throw new InvalidDataException($"mask runs cover {at} pixels, expected {bits.Length}");
        return bits;
    }

    public int Area => Runs.Where((_, i) => i % 2 == 1).Sum();
}

/// <summary>One labelled region a segmenter found.</summary>
/// <param name="Source">How it was found where a segmenter has several ways (SAM's "grid" of points or a "detector" box), else null.</param>
public sealed record Segment(string Label, double Confidence, Box Box, RunLengthMask Mask, string? Source = null);

/// <summary>A segment with the judge's verdict on its label.</summary>
public sealed record JudgedSegment(Segment Segment, Verdict Verdict);

/// <summary>An object a prompt asks for, and how many of it where the prompt says.</summary>
public sealed record ExpectedObject(string Label, int? Count = null);

/// <summary>
/// Knows which objects a prompt asks for (the Shapes grammar can parse its own prompts). The segment
/// reward's optional coverage term uses it to penalise asked-for objects that no segment shows.
/// </summary>
public interface IPromptLabels
{
    /// <returns>The objects <paramref name="prompt"/> asks for, or null when this provider cannot tell.</returns>
    IReadOnlyList<ExpectedObject>? Expected(string prompt);
}
