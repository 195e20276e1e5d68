using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class CaptionTests
{
    static ShapeObject O(ShapeColor c, ShapeKind s, double x, double y) => new(c, s, x, y, 10);

    static string Caption(params ShapeObject[] objects) => SceneCaption.Caption(new Scene(objects));

    [Fact]
    public void One_object_is_a_single_caption_and_equal_objects_are_counted()
    {
        Assert.Equal("a red circle", Caption(O(ShapeColor.Red, ShapeKind.Circle, 30, 30)));
        Assert.Equal("three green triangles", Caption(
            O(ShapeColor.Green, ShapeKind.Triangle, 10, 10), O(ShapeColor.Green, ShapeKind.Triangle, 30, 30), O(ShapeColor.Green, ShapeKind.Triangle, 50, 50)));
    }

    [Fact]
    public void Two_different_objects_take_the_relation_of_the_larger_separation()
    {
        // Side by side: A is the left one.
        Assert.Equal("a blue square to the left of a red circle",
            Caption(O(ShapeColor.Red, ShapeKind.Circle, 40, 32), O(ShapeColor.Blue, ShapeKind.Square, 10, 30)));
        // Mostly vertical: A is still the left one, and it is below the other.
        Assert.Equal("a blue square below a red circle",
            Caption(O(ShapeColor.Red, ShapeKind.Circle, 22, 10), O(ShapeColor.Blue, ShapeKind.Square, 20, 50)));
        Assert.Equal("a blue square above a red circle",
            Caption(O(ShapeColor.Red, ShapeKind.Circle, 22, 50), O(ShapeColor.Blue, ShapeKind.Square, 20, 10)));
        // Same x: A is the upper one.
        Assert.Equal("a red circle above a blue square",
            Caption(O(ShapeColor.Blue, ShapeKind.Square, 20, 50), O(ShapeColor.Red, ShapeKind.Circle, 20, 10)));
        // Equal separation along both axes: horizontal wins.
        Assert.Equal("a red circle to the left of a blue square",
            Caption(O(ShapeColor.Red, ShapeKind.Circle, 10, 10), O(ShapeColor.Blue, ShapeKind.Square, 30, 30)));
    }

    [Fact]
    public void Scenes_fitting_no_template_join_groups_left_to_right_of_first_member()
    {
        Assert.Equal("two red circles and a blue square", Caption(
            O(ShapeColor.Blue, ShapeKind.Square, 30, 10), O(ShapeColor.Red, ShapeKind.Circle, 50, 50), O(ShapeColor.Red, ShapeKind.Circle, 10, 40)));
        Assert.Equal("a blue square and two red circles", Caption(
            O(ShapeColor.Blue, ShapeKind.Square, 8, 10), O(ShapeColor.Red, ShapeKind.Circle, 50, 50), O(ShapeColor.Red, ShapeKind.Circle, 10, 40)));
        Assert.Equal("a green triangle and a red circle and a blue square", Caption(
            O(ShapeColor.Blue, ShapeKind.Square, 50, 10), O(ShapeColor.Red, ShapeKind.Circle, 30, 50), O(ShapeColor.Green, ShapeKind.Triangle, 10, 40)));
    }

    [Fact]
    public void Captions_of_sampled_prompt_scenes_parse_back_to_the_prompt_counts()
    {
        var random = new Random(11);
        foreach (var task in PromptWords.Tasks)
            foreach (var prompt in PromptCatalog.All(task).Where((_, i) => i % 7 == 0))
            {
                var scene = SceneSampler.Sample(prompt, random);
                var caption = PromptGrammar.ParseCaption(SceneCaption.Caption(scene));
                Assert.Equal(prompt.Counts.OrderBy(kv => kv.Key), caption.Counts.OrderBy(kv => kv.Key));
                var expectedTask = task == PromptTask.TwoObjects ? PromptTask.Position : task;
                Assert.Equal(expectedTask, caption.Task);
                if (caption.Relation is Relation r)   // the caption's relation is true of the scene (without margin)
                {
                    var a = scene.Objects.Single(o => (o.Color, o.Shape) == caption.Groups[0].Key);
                    var b = scene.Objects.Single(o => (o.Color, o.Shape) == caption.Groups[1].Key);
                    Assert.True(RelationRule.Slack(r, a.X, a.Y, b.X, b.Y) + RelationRule.Margin >= 0);
                }
            }
    }
}
