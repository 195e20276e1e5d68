using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Judge.Llm;

namespace FineRewards.Judge;

/// <summary>The one reader of a judge spec (`--judge`): "llm:PATH.gguf" is the LLM judge, "lexical" the pack's word-matching judge.</summary>
public static class LabelJudges
{
    /// <param name="lexical">The pack's lexical judge; null when the pack has none (then only llm:PATH is accepted).</param>
    /// <exception cref="InputException">An unknown spec, a missing GGUF file, or "lexical" where there is none (named "--judge").</exception>
    public static ILabelJudge Open(string spec, Func<ILabelJudge>? lexical)
    {
        if (spec == "lexical")
            return lexical?.Invoke() ?? throw new InputException("--judge", "this pack has no lexical judge; give llm:PATH.gguf");
        if (spec.StartsWith("llm:", StringComparison.Ordinal))
        {
            string path = spec["llm:".Length..];
            if (!File.Exists(path)) throw new InputException("--judge", $"GGUF file {path} does not exist");
            return new LlmLabelJudge(new LlmJudgeOptions(path));
        }
        throw new InputException("--judge", $"unknown judge \"{spec}\"; expected lexical or llm:PATH.gguf");
    }
}
