using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Grammar;

namespace FineRewards.Shapes.Judges;

/// <summary>
/// The Shapes pack's relation judge: the prompt is parsed with the world's grammar (an unparseable prompt is an
/// <see cref="InputException"/> naming "prompt"); a position prompt has one relation between its two objects, named
/// as the lexical label judge reads labels ("red circle"); the other tasks have none.
/// </summary>
public sealed class LexicalRelationJudge : IRelationJudge
{
    public string Name => "lexical";
    public string Version => "lexical-relations-v1";

    public IReadOnlyList<PromptRelation> Relations(string prompt, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(prompt)) throw new InputException("prompt", "is empty; expected a Shapes prompt such as \"a red circle above a blue square\"");
        var spec = PromptGrammar.Parse(prompt.Trim().ToLowerInvariant(), "prompt");
        if (spec.Relation is not Relation relation) return [];
        return [new PromptRelation(spec.Groups[0].Name, Map(relation), spec.Groups[1].Name)];
    }

    public static SpatialRelation Map(Relation relation) => relation switch
    {
        Relation.LeftOf => SpatialRelation.LeftOf,
        Relation.RightOf => SpatialRelation.RightOf,
        Relation.Above => SpatialRelation.Above,
        Relation.Below => SpatialRelation.Below,
        _ => throw new ArgumentOutOfRangeException(nameof(relation)),
    };
}
