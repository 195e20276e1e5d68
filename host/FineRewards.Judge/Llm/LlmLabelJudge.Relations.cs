using System.Text;
using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Judge.Llm;

// The relation question of the sam_relation reward, on the same model and context as the label questions:
// one model in memory serves both, and the two questions share no cache entries.
public sealed partial class LlmLabelJudge : IRelationJudge
{
    /// <summary>Bump whenever the relation question or its answer format changes.</summary>
    public const string RelationTemplateVersion = "relations-v1";

    readonly Dictionary<string, IReadOnlyList<PromptRelation>> _relations = new(StringComparer.Ordinal);

    string IRelationJudge.Version => $"{ModelSha256[..16]}+{RelationTemplateVersion}{(_chatTemplate ? "+chat" : "+plain")}";

    /// <summary>The raw answer of the last relation query that ran (null when answered from memory).</summary>
    public string? LastRelationAnswer { get; private set; }

    public static string RelationQuestion(string prompt)
    {
        var text = new StringBuilder();
        text.Append("A text-to-image prompt may say where objects are relative to each other. ");
        text.Append("List each such relation on its own line as \"<object> | <relation> | <object>\", the relation being one of ");
        text.Append("\"left of\", \"right of\", \"above\" or \"below\", each object named by its colour and shape words as the prompt names it ");
        text.Append("(for example \"red circle | above | blue square\"). Then write \"end\" on a line of its own; write only \"end\" when the prompt states no relation.\n");
        text.Append("Prompt: \"").Append(OneLine(prompt).ToLowerInvariant()).Append("\"\n");
        return text.ToString();
    }

    public IReadOnlyList<PromptRelation> Relations(string prompt, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException("prompt", "is empty");
        lock (_gate)
        {
            LastRelationAnswer = null;
            if (_relations.TryGetValue(prompt, out var known)) return known;
            var tokens = _context.Tokenize(Wrap(RelationQuestion(prompt)), addBos: true, special: true);
            if (tokens.Length + RelationGrammar.MaxAnswerBytes + 1 > _options.ContextSize)
                throw new InputException("prompt", $"the relation question for \"{prompt}\" needs {tokens.Length + RelationGrammar.MaxAnswerBytes + 1} tokens, more than ContextSize {_options.ContextSize}");
            string answer = Complete(tokens, RelationGrammar.Gbnf(), RelationGrammar.MaxAnswerBytes, RelationGrammar.IsComplete, cancellationToken);
            LastRelationAnswer = answer;
            IReadOnlyList<PromptRelation> relations;
            try
            {
                relations = RelationGrammar.Parse(answer);
            }
            catch (FormatException e)
            {
                throw new InvalidOperationException($"{Name} answered outside the relation grammar for prompt \"{prompt}\": {e.Message}", e);
            }
            _relations[prompt] = relations;
            return relations;
        }
    }
}
