using FineRewards.Contracts;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>The verdict on one image: correct or not, what was found, and every reason it is wrong.</summary>
/// <param name="RelationSlack">For position prompts with both objects found once: how far the
/// relation exceeds its 4 px margin (negative when short of it).</param>
public sealed record EvaluationResult(
    PromptSpec Prompt,
    bool Correct,
    IReadOnlyList<DetectedObject> Objects,
    IReadOnlyList<string> Reasons,
    double? RelationSlack);

/// <summary>
/// Ground truth of the Shapes world (the project's GenEval): an image is correct when the objects
/// found match the prompt exactly (spec, "Correctness of a generated image"). Not a reward: it
/// knows the world's rules, which the rewards must not.
/// </summary>
public static class ShapesEvaluator
{
    public static EvaluationResult Evaluate(RgbImage image, string prompt) => Evaluate(image, PromptGrammar.Parse(prompt));

    public static EvaluationResult Evaluate(RgbImage image, PromptSpec prompt, string field = "image")
    {
        ObjectDetector.CheckSize(image, field);
        var objects = ObjectDetector.Detect(image);
        var reasons = new List<string>();
        var wanted = prompt.Counts;

        foreach (var o in objects.Where(o => !o.Recognised))
            reasons.Add($"extra object: {o.Describe()}");
        foreach (var (key, count) in wanted)
        {
            int found = objects.Count(o => o.Recognised && (o.Color!.Value, o.Shape!.Value) == key);
            if (found != count)
                reasons.Add($"wrong count of {key.Item1.Word()} {key.Item2.Word()}: expected {count}, found {found}");
        }
        foreach (var o in objects.Where(o => o.Recognised && !wanted.ContainsKey((o.Color!.Value, o.Shape!.Value))))
            reasons.Add($"extra object: {o.Describe()}");

        double? slack = null;
        if (prompt.Relation is Relation relation)
        {
            var a = Single(objects, prompt.Groups[0]);
            var b = Single(objects, prompt.Groups[1]);
            if (a is not null && b is not null)
            {
                slack = RelationRule.Slack(relation, a.X, a.Y, b.X, b.Y);
                if (slack < -RelationRule.Tolerance)
                    reasons.Add($"relation fails: the {a.Name} at ({a.X:0.##}, {a.Y:0.##}) is not {relation.Words()} the {b.Name} at ({b.X:0.##}, {b.Y:0.##}) " +
                                $"with a {RelationRule.Margin} px margin (short by {-slack.Value:0.##} px)");
            }
        }
        return new EvaluationResult(prompt, reasons.Count == 0, objects, reasons, slack);
    }

    static DetectedObject? Single(IReadOnlyList<DetectedObject> objects, ObjectGroup group)
    {
        var matches = objects.Where(o => o.Recognised && o.Color == group.Color && o.Shape == group.Shape).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }
}
