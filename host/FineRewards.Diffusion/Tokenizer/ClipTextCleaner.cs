using System.Net;
using System.Text;

namespace FineRewards.Diffusion.Tokenizer;

/// <summary>
/// openai CLIP's <c>basic_clean</c>: <c>ftfy.fix_text</c>, then <c>html.unescape</c> twice, then strip.
/// ftfy is reproduced only in its rule-based fixes (HTML entities, line breaks, Latin ligatures,
/// fullwidth characters, curly quotes, NFC); its mojibake repair (e.g. "cafÃ©" -> "café") needs
/// ftfy's encoding heuristics and is not attempted. HTML decoding uses .NET's decoder, which knows
/// the HTML 4 entities and requires the closing ';' (Python also accepts HTML 5 names and a few
/// legacy names without ';').
/// </summary>
public static class ClipTextCleaner
{
    public static string BasicClean(string text)
    {
        text = FixText(text);
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));
        return text.Trim(); // the later whitespace cleanup trims with Python's definition anyway
    }

    /// <summary>The rule-based part of <c>ftfy.fix_text</c>, repeated until the text stops changing (as ftfy does).</summary>
    public static string FixText(string text)
    {
        for (int round = 0; round < 8; round++)
        {
            var fixedText = FixOnce(text);
            if (fixedText == text) break;
            text = fixedText;
        }
        return text;
    }

    static string FixOnce(string text)
    {
        // ftfy leaves entities alone in text that looks like HTML markup.
        if (!text.Contains('<')) text = WebUtility.HtmlDecode(text);
        text = text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            switch (c)
            {
                // Latin ligatures and digraphs, spelled out (ftfy.fixes.fix_latin_ligatures).
                case >= '\uFB00' and <= '\uFB06':
                case '\u0132' or '\u0133' or '\u0149':
                case >= '\u01C4' and <= '\u01CC':
                    sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
                    break;
                // Fullwidth ASCII, the ideographic space and halfwidth katakana to their normal width.
                case '\u3000':
                    sb.Append(' ');
                    break;
                case >= '\uFF01' and <= '\uFF5E':
                    sb.Append((char)(c - 0xFEE0));
                    break;
                case >= '\uFF61' and <= '\uFF9F':
                    sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
                    break;
                // Curly quotes to straight ones (ftfy.fixes.uncurl_quotes).
                case '\u02BC' or (>= '\u2018' and <= '\u201B'):
                    sb.Append('\'');
                    break;
                case >= '\u201C' and <= '\u201F':
                    sb.Append('"');
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        return sb.ToString().Normalize(NormalizationForm.FormC);
    }
}
