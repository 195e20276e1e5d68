namespace FineRewards.Contracts;

/// <summary>Where one object is said to be relative to another, read on the image's axes (x right, y down).</summary>
public enum SpatialRelation { LeftOf, RightOf, Above, Below }

/// <summary>"<see cref="Subject"/> <see cref="Relation"/> <see cref="Object"/>", the objects named as segment labels name them (e.g. "red circle").</summary>
public sealed record PromptRelation(string Subject, SpatialRelation Relation, string Object);

/// <summary>What the boxes of an image's segments say about one relation of the prompt.</summary>
public enum RelationVerdict
{
    /// <summary>Subject and object were found and their box centres are placed as the prompt says.</summary>
    Holds,
    /// <summary>Both were found but placed otherwise (e.g. the blue square above the red circle).</summary>
    Violated,
    /// <summary>The subject or the object has no segment, so the relation cannot hold.</summary>
    Missing,
}

/// <summary>One relation of the prompt checked on one image: the segments it was checked on (indices into the
/// reward's segment list) and their boxes, the margin the centres passed by (negative: failed by), and the verdict.</summary>
public sealed record JudgedRelation(
    PromptRelation Relation,
    RelationVerdict Verdict,
    int? SubjectSegment = null,
    int? ObjectSegment = null,
    Box? SubjectBox = null,
    Box? ObjectBox = null,
    double? Slack = null);

/// <summary>Reads the spatial relations a prompt asks for ("a red circle above a blue square": red circle above blue square).</summary>
public interface IRelationJudge
{
    string Name { get; }
    /// <summary>Changes whenever the same prompt could get other relations (model hash, template version).</summary>
    string Version { get; }
    /// <returns>The prompt's relations; empty when it names none.</returns>
    IReadOnlyList<PromptRelation> Relations(string prompt, CancellationToken cancellationToken = default);
}

public static class SpatialRelations
{
    /// <summary>The words prompts and judges use, also the stable names in JSON evidence.</summary>
    public static string Words(this SpatialRelation relation) => relation switch
    {
        SpatialRelation.LeftOf => "left of",
        SpatialRelation.RightOf => "right of",
        SpatialRelation.Above => "above",
        SpatialRelation.Below => "below",
        _ => throw new ArgumentOutOfRangeException(nameof(relation)),
    };

    public static SpatialRelation Parse(string words) => words.Trim().ToLowerInvariant() switch
    {
        "left of" or "to the left of" => SpatialRelation.LeftOf,
        "right of" or "to the right of" => SpatialRelation.RightOf,
        "above" => SpatialRelation.Above,
        "below" => SpatialRelation.Below,
        _ => throw new InputException("relation", $"\"{words}\" is not left of, right of, above or below"),
    };
}
