using FineRewards.Contracts;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Plugin.Tests;

// Test models for the plugin's tests, until the Shapes pack's real models ship. They are NOT the
// product's models: the generator draws the prompt's scene exactly (with seed jitter), the rewards
// read it back with the Shapes world's own ground-truth detector. What they give the plugin is real
// data of the right shape: 64 x 64 images, captions, segments with run-length masks and verdicts.

/// <summary>Renders the prompt's scene with <see cref="SceneRenderer"/>; seed picks the layout, and every third seed recolours one object (a wrong candidate).</summary>
public sealed class ShapesSceneTestGenerator : IImageGenerator
{
    public string Name => "shapes-scene-test";
    public TimeSpan StepDelay { get; init; } = TimeSpan.Zero;
    public ManualResetEventSlim? Gate { get; init; }
    /// <summary>Every request the host passed in (LoRAs resolved to their files), in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<GenerationRequest> Requests { get; } = new();

    public static RgbImage Render(string prompt, long seed)
    {
        Scene scene;
        try
        {
            var spec = PromptGrammar.Parse(prompt);
            scene = SceneSampler.Sample(spec, (int)(seed & 0x7fffffff));
        }
        catch (FineRewards.Contracts.InputException)
        {
            scene = SceneSampler.RandomScene(2, new Random((int)(seed & 0x7fffffff)));
        }
        if (seed % 3 == 2)
        {
            var objects = scene.Objects.ToList();
            var o = objects[0];
            objects[0] = o with { Color = Palette.Colors[((int)o.Color + 1) % Palette.Colors.Count] };
            scene = new Scene(objects);
        }
        return SceneRenderer.Render(scene);
    }

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Requests.Enqueue(request);
        for (int step = 1; step <= request.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (StepDelay > TimeSpan.Zero) Task.Delay(StepDelay, cancellationToken).Wait(cancellationToken);
            progress?.Report(new GenerationProgress(step, request.Steps, step == request.Steps ? request.K : 0, request.K));
            if (step == 1) Gate?.Wait(cancellationToken);
        }
        return Enumerable.Range(0, request.K)
            .Select(i => new GeneratedCandidate(i, request.BaseSeed + i, Render(request.Prompt, request.BaseSeed + i),
                new Dictionary<string, string> { ["generator"] = Name }))
            .ToList();
    }
}

/// <summary>Segments = the detector's objects (mask: inked pixels in the object's box); verdict: certain when the prompt names the object, may when it names its shape or colour, else unlikely.</summary>
public sealed class ShapesSegmentTestReward : IReward
{
    public string Name => "segments-test";
    public string Version => "1";

    public static IReadOnlyList<JudgedSegment> Segments(string prompt, RgbImage image)
    {
        PromptSpec? spec = null;
        try { spec = PromptGrammar.Parse(prompt); } catch (FineRewards.Contracts.InputException) { }
        var result = new List<JudgedSegment>();
        foreach (var o in ObjectDetector.Detect(image))
        {
            var bits = new bool[image.Width * image.Height];
            for (int y = o.Box.Y; y < o.Box.Y + o.Box.Height; y++)
                for (int x = o.Box.X; x < o.Box.X + o.Box.Width; x++)
                {
                    var (r, g, b) = image[x, y];
                    bits[y * image.Width + x] = 255 - Math.Min(r, Math.Min(g, b)) >= ObjectDetector.LowInk;
                }
            var segment = new Segment(o.Name, Math.Round(Math.Clamp(1 - o.FitError * 2, 0, 1), 3), new Box(o.Box.X, o.Box.Y, o.Box.Width, o.Box.Height),
                RunLengthMask.FromBits(image.Width, image.Height, bits));
            var verdict = spec is null || !o.Recognised ? Verdict.Unlikely
                : spec.Groups.Any(g => g.Color == o.Color && g.Shape == o.Shape) ? Verdict.Certain
                : spec.Groups.Any(g => g.Color == o.Color || g.Shape == o.Shape) ? Verdict.May
                : Verdict.Unlikely;
            result.Add(new JudgedSegment(segment, verdict));
        }
        return result;
    }

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        images.Select(image =>
        {
            var segments = Segments(prompt, image);
            double score = segments.Count == 0 ? 0 : segments.Average(s => s.Verdict.Score());
            return new RewardScore(Name, score, new RewardEvidence(Segments: segments, Flags: segments.Count == 0 ? ["no-segments"] : null));
        }).ToList();
}

/// <summary>Caption = the canonical caption of the detected objects; score = share of the prompt's words the caption has (a stand-in for the embedding cosine).</summary>
public sealed class ShapesCaptionTestReward : IReward
{
    public string Name => "caption-test";
    public string Version => "1";

    public static string Caption(RgbImage image)
    {
        var objects = ObjectDetector.Detect(image).Where(o => o.Recognised)
            .Select(o => new PlacedObject(o.Color!.Value, o.Shape!.Value, o.X, o.Y)).ToList();
        return objects.Count == 0 ? "an empty picture" : SceneCaption.Describe(objects).Text;
    }

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        images.Select(image =>
        {
            string caption = Caption(image);
            var want = prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var have = caption.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            double score = want.Count == 0 ? 0 : (double)want.Count(have.Contains) / want.Union(have).Count();
            return new RewardScore(Name, Math.Round(score, 4), new RewardEvidence(Caption: caption));
        }).ToList();
}
