using System.Globalization;
using System.Text;

namespace FineRewards.Diffusion.Tokenizer;

/// <summary>
/// The two pieces of Python string semantics that CLIP's text cleaning relies on and .NET does
/// differently: <c>str.isspace</c> / <c>re</c>'s <c>\s</c> (which also covers U+001C..U+001F), and
/// <c>str.lower()</c> (full case mapping: İ -> "i\u0307", and the context-dependent final sigma).
/// </summary>
public static class PythonText
{
    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 unit (every such character is in the BMP).</summary>
    public static bool IsSpace(char c) => c switch
    {
        >= '\t' and <= '\r' => true,           // \t \n \v \f \r
        >= '\u001C' and <= '\u001F' => true,   // file/group/record/unit separators: bidi B/S, not in .NET's \s
        ' ' or '\u0085' or '\u00A0' or '\u1680' => true,
        >= '\u2000' and <= '\u200A' => true,
        '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000' => true,
        _ => false,
    };

    /// <summary>
    /// <c>re.sub(r"\s+", " ", text.strip()).strip()</c>: every whitespace run becomes one space and
    /// the ends are trimmed.
    /// </summary>
    public static string CollapseWhitespace(ReadOnlySpan<char> text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char c in text)
        {
            if (IsSpace(c))
            {
                pendingSpace = sb.Length > 0;   // leading whitespace is dropped
                continue;
            }
            if (pendingSpace) sb.Append(' ');
            pendingSpace = false;
            sb.Append(c);
        }
        return sb.ToString();                   // trailing whitespace never got appended
    }

    /// <summary>
    /// Python's <c>str.lower()</c>. .NET's invariant lower-casing is the simple (1:1) mapping; Python
    /// uses the full mapping, which differs in exactly two places: U+0130 (İ) becomes "i" + U+0307
    /// (SpecialCasing.txt's only unconditional multi-character lowercase), and U+03A3 (Σ) becomes the
    /// final form ς when it ends a word (the Final_Sigma condition).
    /// </summary>
    public static string Lower(string text)
    {
        var sb = new StringBuilder(text.Length + 4);
        var runes = new List<Rune>(text.Length);
        foreach (var r in text.EnumerateRunes()) runes.Add(r);
        for (int i = 0; i < runes.Count; i++)
        {
            var r = runes[i];
            if (r.Value == 0x0130) sb.Append("i\u0307");
            else if (r.Value == 0x03A3) sb.Append(IsFinalSigma(runes, i) ? 'ς' : 'σ');
            else sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    // Unicode's Final_Sigma: a cased letter before (skipping case-ignorables) and no cased letter after.
    // Same scan as CPython's handle_capital_sigma.
    static bool IsFinalSigma(List<Rune> runes, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(runes[j])) j--;
        if (j < 0 || !IsCased(runes[j])) return false;
        j = i + 1;
        while (j < runes.Count && IsCaseIgnorable(runes[j])) j++;
        return j == runes.Count || !IsCased(runes[j]);
    }

    // Cased = Lowercase or Uppercase or Lt. .NET exposes no derived properties, so categories stand in
    // for them, plus the main Other_Lowercase/Other_Uppercase blocks that are not letters (ª º, Roman
    // numerals, circled letters). Obscure modifier letters may differ; they only matter next to a Σ.
    static bool IsCased(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        if (cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter)
            return true;
        int v = r.Value;
        return v is 0xAA or 0xBA or (>= 0x2160 and <= 0x217F) or (>= 0x24B6 and <= 0x24E9);
    }

    // Case_Ignorable = Mn | Me | Cf | Lm | Sk | Word_Break in {MidLetter, MidNumLet, Single_Quote}.
    static bool IsCaseIgnorable(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        if (cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol)
            return true;
        return r.Value is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019
            or 0x2024 or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
    }
}
