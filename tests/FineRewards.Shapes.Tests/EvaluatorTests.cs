using FineRewards.Core.IO;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class EvaluatorTests
{
    static ShapeObject O(ShapeColor c, ShapeKind s, double x, double y, double size = 14) => new(c, s, x, y, size);

    static EvaluationResult Eval(string prompt, params ShapeObject[] objects) =>
        ShapesEvaluator.Evaluate(SceneRenderer.Render(objects), PromptGrammar.Parse(prompt));

    /// <summary>Prompts of one task, cycling through its catalogue, each with a fresh seeded scene.</summary>
    static IEnumerable<(PromptSpec Prompt, Scene Scene)> Cases(PromptTask task, int count, int seed)
    {
        var random = new Random(seed);
        var all = PromptCatalog.All(task);
        for (int i = 0; i < count; i++)
        {
            var prompt = all[random.Next(all.Count)];
            yield return (prompt, SceneSampler.Sample(prompt, random));
        }
    }

    [Theory]
    [InlineData(PromptTask.Single)]
    [InlineData(PromptTask.TwoObjects)]
    [InlineData(PromptTask.Counting)]
    [InlineData(PromptTask.Position)]
    public void Spec_renders_score_100_percent(PromptTask task)
    {
        var failures = new List<string>();
        foreach (var (prompt, scene) in Cases(task, 250, seed: 100 + (int)task))
        {
            var result = ShapesEvaluator.Evaluate(SceneRenderer.Render(scene), prompt);
            if (!result.Correct) failures.Add($"{prompt.Text}: {string.Join("; ", result.Reasons)}");
            // The caption of what was found parses back to the prompt's counts.
            var caption = PromptGrammar.ParseCaption(SceneCaption.Describe(result.Objects.Where(f => f.Recognised)
                .Select(f => new PlacedObject(f.Color!.Value, f.Shape!.Value, f.X, f.Y)).ToList()).Text);
            Assert.Equal(prompt.Counts.OrderBy(kv => kv.Key), caption.Counts.OrderBy(kv => kv.Key));
            // Found objects sit where the scene put them (fitted centre, not the pixel box).
            foreach (var o in scene.Objects)
                Assert.Contains(result.Objects, f => f.Color == o.Color && f.Shape == o.Shape
                    && Math.Abs(f.X - o.X) < 0.05 && Math.Abs(f.Y - o.Y) < 0.05 && Math.Abs(f.Size - o.Size) < 0.1);
        }
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(PromptTask.Single)]
    [InlineData(PromptTask.TwoObjects)]
    [InlineData(PromptTask.Counting)]
    [InlineData(PromptTask.Position)]
    public void Renders_shrunk_to_32_and_enlarged_back_still_score_100_percent(PromptTask task)
    {
        var failures = new List<string>();
        foreach (var (prompt, scene) in Cases(task, 150, seed: 200 + (int)task))
        {
            var image = ImageResize.Resize(ImageResize.Resize(SceneRenderer.Render(scene), 32, 32), 64, 64);
            var result = ShapesEvaluator.Evaluate(image, prompt);
            if (!result.Correct) failures.Add($"{prompt.Text} [{string.Join(", ", scene.Objects.Select(o => $"{o.Name} {o.X:0.00},{o.Y:0.00},{o.Size:0.00}"))}]: {string.Join("; ", result.Reasons)}");
        }
        Assert.Empty(failures);
    }

    [Fact]
    public void Spec_renders_of_random_scenes_are_found_object_by_object()
    {
        var random = new Random(3);
        for (int i = 0; i < 100; i++)
        {
            var scene = SceneSampler.RandomScene(1 + i % 4, random);
            var found = ObjectDetector.Detect(SceneRenderer.Render(scene));
            Assert.Equal(scene.Objects.Count, found.Count);
            Assert.All(found, f => Assert.True(f.Recognised, f.Describe()));
            // ...and their caption is the scene's caption.
            var caption = SceneCaption.Describe(found.Select(f => new PlacedObject(f.Color!.Value, f.Shape!.Value, f.X, f.Y)).ToList());
            Assert.Equal(SceneCaption.Caption(scene), caption.Text);
        }
    }

    [Fact]
    public void Triangle_centre_is_its_box_centre_not_the_pixel_box_centre()
    {
        // Apex at y = 20.6 (the top row holds only a sliver of it), base at y = 34.6.
        var result = Eval("a red triangle", O(ShapeColor.Red, ShapeKind.Triangle, 30.3, 27.6, 14));
        var t = Assert.Single(result.Objects);
        Assert.Equal(ShapeKind.Triangle, t.Shape);
        Assert.Equal(27.6, t.Y, 0.03);
        Assert.Equal(30.3, t.X, 0.03);
        Assert.Equal(14, t.Size, 0.05);
    }

    [Fact]
    public void Wrong_colour_is_incorrect()
    {
        var result = Eval("a red circle", O(ShapeColor.Blue, ShapeKind.Circle, 30, 30));
        Assert.False(result.Correct);
        Assert.Contains(result.Reasons, r => r.Contains("wrong count of red circle: expected 1, found 0"));
        Assert.Contains(result.Reasons, r => r.Contains("extra object: blue circle"));
    }

    [Fact]
    public void Wrong_shape_is_incorrect()
    {
        var result = Eval("a green square", O(ShapeColor.Green, ShapeKind.Circle, 30, 30));
        Assert.False(result.Correct);
        Assert.Contains(result.Reasons, r => r.Contains("extra object: green circle"));
    }

    [Fact]
    public void An_extra_object_is_incorrect()
    {
        var result = Eval("a red circle", O(ShapeColor.Red, ShapeKind.Circle, 15, 15), O(ShapeColor.Yellow, ShapeKind.Square, 45, 45));
        Assert.False(result.Correct);
        Assert.Equal(["extra object: yellow square at (45, 45), size 14"], result.Reasons);
    }

    [Fact]
    public void Wrong_count_is_incorrect_both_ways()
    {
        var three = new[] { O(ShapeColor.Purple, ShapeKind.Square, 12, 12), O(ShapeColor.Purple, ShapeKind.Square, 40, 14), O(ShapeColor.Purple, ShapeKind.Square, 25, 45) };
        Assert.True(Eval("three purple squares", three).Correct);
        var more = Eval("two purple squares", three);
        Assert.Contains("wrong count of purple square: expected 2, found 3", more.Reasons);
        var fewer = Eval("four purple squares", three);
        Assert.Contains("wrong count of purple square: expected 4, found 3", fewer.Reasons);
        Assert.Contains("wrong count of purple square: expected 1, found 3", Eval("a purple square", three).Reasons);
    }

    [Fact]
    public void Wrong_relation_is_incorrect_and_the_tolerance_is_an_eighth_of_a_pixel()
    {
        var left = O(ShapeColor.Red, ShapeKind.Circle, 20, 30);
        var right = O(ShapeColor.Blue, ShapeKind.Square, 44, 32);
        Assert.True(Eval("a red circle to the left of a blue square", left, right).Correct);
        var wrong = Eval("a red circle to the right of a blue square", left, right);
        Assert.False(wrong.Correct);
        Assert.Single(wrong.Reasons);
        Assert.Contains("relation fails", wrong.Reasons[0]);
        Assert.False(Eval("a red circle above a blue square", left, right).Correct);   // dy = 2 < 4

        // Centres 3.95 apart still pass (within 1/8 of the margin); 3.7 apart do not.
        var below = O(ShapeColor.Blue, ShapeKind.Square, 31, 33.95);
        var top = O(ShapeColor.Red, ShapeKind.Circle, 10, 30);
        var near = Eval("a red circle above a blue square", top, below);
        Assert.True(near.Correct, string.Join("; ", near.Reasons));
        Assert.Equal(-0.05, near.RelationSlack!.Value, 0.03);
        var far = Eval("a red circle above a blue square", top, O(ShapeColor.Blue, ShapeKind.Square, 31, 33.7));
        Assert.False(far.Correct);
        Assert.Contains("short by", far.Reasons[0]);
        Assert.Equal(-0.3, far.RelationSlack!.Value, 0.03);
    }

    [Fact]
    public void Two_object_prompts_ignore_position_but_need_both_objects()
    {
        var a = O(ShapeColor.Red, ShapeKind.Circle, 40, 30);
        var b = O(ShapeColor.Blue, ShapeKind.Triangle, 15, 31);
        Assert.True(Eval("a red circle and a blue triangle", a, b).Correct);
        Assert.True(Eval("a blue triangle and a red circle", a, b).Correct);
        Assert.Contains("wrong count of blue triangle: expected 1, found 0", Eval("a red circle and a blue triangle", a).Reasons);
    }

    [Fact]
    public void Merged_blob_of_touching_objects_is_not_two_objects()
    {
        // Two red squares sharing an edge make one 28 x 14 rectangle.
        var result = Eval("two red squares", O(ShapeColor.Red, ShapeKind.Square, 20, 30), O(ShapeColor.Red, ShapeKind.Square, 34, 30));
        Assert.False(result.Correct);
        var blob = Assert.Single(result.Objects);
        Assert.False(blob.Recognised);
        Assert.Contains("unrecognisable shape", blob.Issue);
        Assert.Contains(result.Reasons, r => r.StartsWith("extra object: unrecognised object"));
        Assert.Contains("wrong count of red square: expected 2, found 0", result.Reasons);
    }

    [Fact]
    public void Overlapping_objects_of_two_colours_are_a_mixed_blob()
    {
        var result = Eval("a red circle and a blue square", O(ShapeColor.Red, ShapeKind.Circle, 25, 30, 16), O(ShapeColor.Blue, ShapeKind.Square, 35, 30, 16));
        Assert.False(result.Correct);
        var blob = Assert.Single(result.Objects);
        Assert.Contains("mixed colours", blob.Issue);
    }

    [Fact]
    public void Odd_shapes_are_extra_objects()
    {
        // A 20 x 10 rectangle painted by hand is none of the three shapes.
        var image = SceneRenderer.Render(new Scene([O(ShapeColor.Green, ShapeKind.Circle, 15, 15)]));
        Paint(image, 30, 40, 20, 10, (40, 160, 60));
        var result = ShapesEvaluator.Evaluate(image, PromptGrammar.Parse("a green circle"));
        Assert.False(result.Correct);
        var odd = Assert.Single(result.Objects, o => !o.Recognised);
        Assert.Contains("unrecognisable shape", odd.Issue);
        Assert.Equal(new PixelBox(30, 40, 20, 10), odd.Box);
    }

    [Fact]
    public void Off_palette_object_is_an_extra_object()
    {
        var image = SceneRenderer.Render(new Scene([O(ShapeColor.Blue, ShapeKind.Square, 15, 15)]));
        Paint(image, 36, 36, 14, 14, (255, 140, 0));   // an orange square
        var result = ShapesEvaluator.Evaluate(image, PromptGrammar.Parse("a blue square"));
        Assert.False(result.Correct);
        var orange = Assert.Single(result.Objects, o => !o.Recognised);
        Assert.Contains("off-palette colour rgb 255,140,0", orange.Issue);
        Assert.Equal(43, orange.X, 0.01);
    }

    [Fact]
    public void Faded_object_is_an_extra_object()
    {
        var image = SceneRenderer.Render(new Scene([O(ShapeColor.Red, ShapeKind.Circle, 15, 15), O(ShapeColor.Red, ShapeKind.Circle, 45, 45)]));
        // Fade the second circle half way to white.
        for (int y = 30; y < 64; y++)
            for (int x = 30; x < 64; x++)
                for (int c = 0; c < 3; c++)
                {
                    int k = 3 * (y * 64 + x) + c;
                    image.Pixels[k] = (byte)((image.Pixels[k] + 255 + 1) / 2);
                }
        var result = ShapesEvaluator.Evaluate(image, PromptGrammar.Parse("a red circle"));
        Assert.False(result.Correct);
        var faded = Assert.Single(result.Objects, o => !o.Recognised);
        Assert.Contains("faded red", faded.Issue);
        Assert.True(ShapesEvaluator.Evaluate(image, PromptGrammar.Parse("a red circle")).Objects.Count(o => o.Recognised) == 1);
    }

    [Fact]
    public void Specks_of_a_few_pixels_are_noise_not_objects()
    {
        var image = SceneRenderer.Render(new Scene([O(ShapeColor.Yellow, ShapeKind.Triangle, 20, 20)]));
        Paint(image, 50, 50, 3, 3, (0, 0, 0));
        Assert.True(ShapesEvaluator.Evaluate(image, "a yellow triangle").Correct);
        Paint(image, 50, 50, 5, 5, (0, 0, 0));   // 25 pixels: visible, so an extra object
        Assert.False(ShapesEvaluator.Evaluate(image, "a yellow triangle").Correct);
    }

    [Fact]
    public void Empty_image_finds_nothing()
    {
        var white = new RgbImage(64, 64, Enumerable.Repeat((byte)255, 64 * 64 * 3).ToArray());
        var result = ShapesEvaluator.Evaluate(white, "a red circle");
        Assert.Empty(result.Objects);
        Assert.Equal(["wrong count of red circle: expected 1, found 0"], result.Reasons);
    }

    [Fact]
    public void Images_of_another_size_are_refused()
    {
        var image = new RgbImage(32, 32, new byte[32 * 32 * 3]);
        var e = Assert.Throws<InputException>(() => ShapesEvaluator.Evaluate(image, "a red circle"));
        Assert.Contains("64x64", e.Message);
    }

    static void Paint(RgbImage image, int x0, int y0, int w, int h, (byte R, byte G, byte B) rgb)
    {
        for (int y = y0; y < y0 + h; y++)
            for (int x = x0; x < x0 + w; x++)
            {
                int k = 3 * (y * image.Width + x);
                (image.Pixels[k], image.Pixels[k + 1], image.Pixels[k + 2]) = rgb;
            }
    }
}

public class EvaluatorNoiseTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(10)]
    public void Mild_pixel_noise_does_not_change_the_verdict(int amplitude)
    {
        // Generated images are never exactly clean: add uniform noise of +-amplitude to every channel.
        var random = new Random(amplitude);
        var failures = new List<string>();
        foreach (var task in PromptWords.Tasks)
            foreach (var prompt in PromptCatalog.All(task).Where((_, i) => i % 23 == 0))
            {
                var image = SceneRenderer.Render(SceneSampler.Sample(prompt, random));
                for (int k = 0; k < image.Pixels.Length; k++)
                    image.Pixels[k] = (byte)Math.Clamp(image.Pixels[k] + random.Next(-amplitude, amplitude + 1), 0, 255);
                var result = ShapesEvaluator.Evaluate(image, prompt);
                if (!result.Correct) failures.Add($"{prompt.Text}: {string.Join("; ", result.Reasons)}");
            }
        Assert.Empty(failures);
    }
}
