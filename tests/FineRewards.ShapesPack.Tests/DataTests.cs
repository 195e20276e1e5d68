using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Data;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Tests;

public class DataTests
{
    [Fact]
    public void Class_map_agrees_with_the_rendered_colours_away_from_edges()
    {
        var scene = SceneSampler.Sample(PromptGrammar.Parse("a red circle to the left of a blue triangle"), 5);
        var image = SceneRenderer.Render(scene);
        var classes = SceneMasks.ClassMap(scene.Objects);
        int n = Scene.Canvas, checkedPixels = 0;
        for (int y = 1; y < n - 1; y++)
            for (int x = 1; x < n - 1; x++)
            {
                int c = classes[y * n + x];
                bool interior = true;
                for (int dy = -1; dy <= 1; dy++) for (int dx = -1; dx <= 1; dx++) interior &= classes[(y + dy) * n + x + dx] == c;
                if (!interior) continue;
                var (r, g, b) = image[x, y];
                var want = c == 0 ? ((byte)255, (byte)255, (byte)255) : (c == SceneMasks.ClassOf(ShapeColor.Red, ShapeKind.Circle) ? ShapeColor.Red : ShapeColor.Blue).Rgb();
                Assert.True(Math.Abs(r - want.Item1) + Math.Abs(g - want.Item2) + Math.Abs(b - want.Item3) <= 6, $"pixel ({x}, {y}) class {c} is ({r}, {g}, {b})");
                checkedPixels++;
            }
        Assert.True(checkedPixels > 3000);
        Assert.Equal("red circle", SceneMasks.LabelOf(SceneMasks.ClassOf(ShapeColor.Red, ShapeKind.Circle)));
        Assert.Equal("purple triangle", SceneMasks.LabelOf(SceneMasks.Classes - 1));
    }

    [Fact]
    public void Augment_is_seeded_stays_in_range_and_keeps_targets_valid()
    {
        var scenes = ReaderScenes.SampleMany(6, new Random(3)).Select(s => s.Scene).ToList();
        using var images = ImageTensors.Render(scenes);
        using var targets = ImageTensors.ClassTargets(scenes);
        var options = new AugmentOptions(Clean: 0);
        var (a, ta) = Augment.Apply(images, targets, options, new Random(9));
        var (b, tb) = Augment.Apply(images, targets, options, new Random(9));
        using (a) using (b) using (ta) using (tb)
        {
            Assert.True(Same(a, b));
            Assert.True(Same(ta!, tb!));
            Assert.False(Same(a, images));
            Assert.InRange(a.min().item<float>(), 0f, 1f);
            Assert.InRange(a.max().item<float>(), 0f, 1f);
            Assert.InRange(ta!.min().item<long>(), 0, SceneMasks.Classes - 1);
            Assert.InRange(ta!.max().item<long>(), 0, SceneMasks.Classes - 1);
            // A small warp moves object pixels a little, it does not erase or double them.
            double before = targets.gt(0).sum().item<long>(), after = ta!.gt(0).sum().item<long>();
            Assert.InRange(after / before, 0.85, 1.15);
        }
        var (same, _) = Augment.Apply(images, null, AugmentOptions.None, new Random(1));
        using (same) Assert.True(Same(same, images));
    }

    [Fact]
    public void Scenes_are_seeded_and_captions_fit_the_captioner_vocabulary()
    {
        var first = ReaderScenes.SampleMany(200, ReaderScenes.StepRandom(1234, 7));
        var again = ReaderScenes.SampleMany(200, ReaderScenes.StepRandom(1234, 7));
        Assert.Equal(first.Select(s => s.Text), again.Select(s => s.Text));
        var vocabulary = CaptionVocabulary.Grammar();
        var config = ShapesCaptionerConfig.Default();
        foreach (var s in first)
        {
            Assert.Equal(s.Caption, SceneCaption.Caption(s.Scene));
            var (input, target) = vocabulary.EncodeTeacherForcing(s.Caption, config.MaxLength);
            Assert.Equal(s.Caption, vocabulary.Decode(target));
            Assert.Equal(CaptionVocabulary.BosId, input[0]);
        }
        Assert.Contains(first, s => PromptGrammar.ParseCaption(s.Caption).Task == PromptTask.Composite);
        Assert.Contains(first, s => PromptGrammar.ParseCaption(s.Caption).Task == PromptTask.Counting);
    }

    [Theory]
    [InlineData("a red circle", PerturbationKind.Color)]
    [InlineData("a blue square and a yellow triangle", PerturbationKind.Color)]
    [InlineData("three green triangles", PerturbationKind.Count)]
    [InlineData("a purple circle above a red square", PerturbationKind.Position)]
    public void Near_miss_prompts_change_exactly_the_named_fact(string prompt, PerturbationKind kind)
    {
        var spec = PromptGrammar.Parse(prompt);
        Assert.Equal(kind, PromptPerturbation.ForTask(spec.Task));
        for (int seed = 0; seed < 20; seed++)
        {
            var wrong = PromptPerturbation.Perturb(spec, kind, new Random(seed));
            Assert.NotEqual(spec.Text, wrong.Text);
            Assert.Equal(wrong, PromptGrammar.ParseCaption(wrong.Text));
            Assert.Equal(spec.Groups.Count, wrong.Groups.Count);
            if (kind == PerturbationKind.Position)
                Assert.Equal(spec.Groups, wrong.Groups);
            if (kind == PerturbationKind.Count)
                Assert.Equal(spec.Groups.Select(g => g.Key), wrong.Groups.Select(g => g.Key));
        }
        // The random choice always finds a near miss, also where one kind cannot apply.
        var crowded = PromptGrammar.ParseCaption("a red triangle and a red circle and a red square");
        for (int seed = 0; seed < 20; seed++) Assert.NotEqual(crowded.Text, PromptPerturbation.Perturb(crowded, new Random(seed)).Text);
    }

    static bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}
