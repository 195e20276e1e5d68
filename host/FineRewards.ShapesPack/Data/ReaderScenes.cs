using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Data;

/// <summary>A sampled scene and a text that describes it exactly.</summary>
/// <param name="Text">The canonical caption, or (for <see cref="ReaderScenes.SampleWithText"/>) sometimes the prompt it was drawn for.</param>
public sealed record TextScene(Scene Scene, string Caption, string Text);

/// <summary>
/// The scenes the reader models learn from, drawn from a seeded <see cref="Random"/>:
/// 40% random scenes of 1-4 objects of any colours and shapes (most fit no template), 20% counting
/// scenes (2-4 equal objects, half of them with one other object: composite captions), 40% scenes of
/// train-split catalogue prompts (all four tasks, so positions and two-object prompts are common).
/// Test and validation prompts appear only through random scenes, never as drawn prompts.
/// </summary>
public static class ReaderScenes
{
    static readonly IReadOnlyList<PromptSpec> TrainPrompts = PromptCatalog.Split(PromptSplit.Train);

    public static TextScene Sample(Random random)
    {
        double u = random.NextDouble();
        PromptSpec? prompt = null;
        Scene scene;
        if (u < 0.4)
            scene = SceneSampler.RandomScene(1 + random.Next(Scene.MaxObjects), random);
        else if (u < 0.6)
        {
            var color = Palette.Colors[random.Next(Palette.Colors.Count)];
            var shape = Palette.Shapes[random.Next(Palette.Shapes.Count)];
            int count = 2 + random.Next(3);
            var groups = new List<ObjectGroup> { new(color, shape, count) };
            if (count < Scene.MaxObjects && random.Next(2) == 0)
            {
                ObjectGroup other;
                do other = new(Palette.Colors[random.Next(Palette.Colors.Count)], Palette.Shapes[random.Next(Palette.Shapes.Count)], 1);
                while (other.Key == groups[0].Key);
                groups.Add(other);
            }
            scene = SceneSampler.Sample(new PromptSpec(groups.Count == 1 ? PromptTask.Counting : PromptTask.Composite, groups), random);
        }
        else
        {
            prompt = TrainPrompts[random.Next(TrainPrompts.Count)];
            scene = SceneSampler.Sample(prompt, random);
        }
        string caption = SceneCaption.Caption(scene);
        return new TextScene(scene, caption, prompt is not null && random.Next(2) == 0 ? prompt.Text : caption);
    }

    public static IReadOnlyList<TextScene> SampleMany(int count, Random random) =>
        Enumerable.Range(0, count).Select(_ => Sample(random)).ToList();

    /// <summary>The random stream of step <paramref name="step"/> of a run with data seed <paramref name="seed"/>: reproducible and independent of resumes.</summary>
    public static Random StepRandom(long seed, long step) => new(unchecked((int)(seed * 1_000_003 + step * 7_919 + 17)));

    /// <summary>Held-out scenes: a stream no training step draws from.</summary>
    public static Random HeldOutRandom(long seed) => new(unchecked((int)(seed * 31 + 1_234_567_891)));
}
