using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Core.Training;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>
/// The Shapes world's ground truth as the training loop and `finerewards eval` use it: parses the
/// prompt with the grammar, resizes the image to the canvas the evaluator checks, and evaluates.
/// </summary>
public sealed class ShapesGroundTruth : IGroundTruth
{
    public string Name => "shapes-evaluator";

    public GroundTruthVerdict Evaluate(string prompt, RgbImage image)
    {
        var spec = PromptGrammar.Parse(prompt);
        var sized = image.Width == Scene.Canvas && image.Height == Scene.Canvas ? image : ImageResize.Resize(image, Scene.Canvas, Scene.Canvas);
        var result = ShapesEvaluator.Evaluate(sized, spec);
        return new GroundTruthVerdict(spec.Task.Key(), result.Correct, result.Reasons);
    }

    /// <summary>A pack runtime's prompt check for Shapes prompts: the grammar, with the file and line as the field.</summary>
    public static void ValidatePrompt(string prompt, string field) => PromptGrammar.Parse(prompt, field);
}
