using System.Text;
using FineRewards.Contracts;

namespace FineRewards.Core.Training;

/// <summary>
/// A prompts file: UTF-8 text, one prompt per line; blank lines and lines starting with '#' are
/// skipped. Every error names the file and the line.
/// </summary>
public static class PromptsFile
{
    public const int MaxPromptLength = 1000;

    /// <param name="validate">The pack's own check (prompt, field), e.g. the Shapes grammar.</param>
    public static IReadOnlyList<string> Read(string path, Action<string, string>? validate = null)
    {
        if (!File.Exists(path)) throw new InputException(path, "prompts file does not exist");
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new InputException(path, "not UTF-8 text; expected one prompt per line");
        }
        var prompts = new List<string>();
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string field = $"{path} line {i + 1}";
            string line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.Any(char.IsControl)) throw new InputException(field, "contains a control character (a tab?); expected one plain prompt per line");
            if (line.Length > MaxPromptLength) throw new InputException(field, $"{line.Length} characters; a prompt has at most {MaxPromptLength}");
            validate?.Invoke(line, field);
            prompts.Add(line);
        }
        if (prompts.Count == 0) throw new InputException(path, "no prompts; expected one prompt per line");
        return prompts;
    }
}
