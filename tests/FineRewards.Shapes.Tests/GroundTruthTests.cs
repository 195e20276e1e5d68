using FineRewards.Core.IO;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

/// <summary>The training loop's view of the Shapes ground truth (IGroundTruth).</summary>
public class GroundTruthTests
{
    [Fact]
    public void A_rendered_scene_is_correct_for_its_prompt_and_wrong_for_another_with_the_task_named()
    {
        var prompt = PromptCatalog.All(PromptTask.Counting)[0];
        var image = SceneRenderer.Render(SceneSampler.Sample(prompt, new Random(3)));
        var truth = new ShapesGroundTruth();

        var right = truth.Evaluate(prompt.Text, image);
        Assert.True(right.Correct, string.Join("; ", right.Reasons));
        Assert.Equal("counting", right.Task);

        var other = PromptCatalog.All(PromptTask.Single)[0];
        var wrong = truth.Evaluate(other.Text, image);
        Assert.False(wrong.Correct);
        Assert.Equal("single", wrong.Task);
        Assert.NotEmpty(wrong.Reasons);

        // Images of another size (a pack generating 32x32) are resized to the canvas first.
        var small = ImageResize.Resize(image, 32, 32);
        Assert.True(truth.Evaluate(prompt.Text, small).Correct);
    }

    [Fact]
    public void Prompt_check_names_the_field()
    {
        var e = Assert.Throws<InputException>(() => ShapesGroundTruth.ValidatePrompt("a purple dodecahedron", "prompts.txt line 4"));
        Assert.Equal("prompts.txt line 4", e.Field);
    }
}
