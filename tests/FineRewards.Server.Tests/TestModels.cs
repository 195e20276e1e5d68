using FineRewards.Core.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Server.Models;

namespace FineRewards.Server.Tests;

// Small deterministic models for the host's tests: the host must work with any generator and reward.

/// <summary>Renders each candidate as one solid colour derived from its seed.</summary>
public sealed class SolidColourGenerator : IImageGenerator
{
    public string Name => "solid-colour";
    /// <summary>Time each step takes; lets a test catch a job while it runs.</summary>
    public TimeSpan StepDelay { get; init; } = TimeSpan.Zero;
    /// <summary>When set, generation waits for it after the first step (cancellation still works).</summary>
    public ManualResetEventSlim? Gate { get; init; }
    public int Calls;
    /// <summary>Every request, in call order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<GenerationRequest> Requests { get; } = new();

    public static (byte R, byte G, byte B) ColourOf(long seed) => ((byte)(seed * 37 % 256), (byte)(seed * 91 % 256), (byte)(seed * 173 % 256));

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Calls);
        Requests.Enqueue(request);
        for (int step = 1; step <= request.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (StepDelay > TimeSpan.Zero) Task.Delay(StepDelay, cancellationToken).Wait(cancellationToken);
            progress?.Report(new GenerationProgress(step, request.Steps, step == request.Steps ? request.K : 0, request.K));
            if (step == 1) Gate?.Wait(cancellationToken);
        }
        return Enumerable.Range(0, request.K).Select(i =>
        {
            long seed = request.BaseSeed + i;
            var (r, g, b) = ColourOf(seed);
            var pixels = new byte[request.Width * request.Height * 3];
            for (int p = 0; p < pixels.Length; p += 3) { pixels[p] = r; pixels[p + 1] = g; pixels[p + 2] = b; }
            return new GeneratedCandidate(i, seed, new RgbImage(request.Width, request.Height, pixels),
                new Dictionary<string, string> { ["generator"] = Name });
        }).ToList();
    }
}

/// <summary>Mean of all channels, 0..1.</summary>
public sealed class BrightnessReward : IReward
{
    public string Name => "brightness";
    public string Version => "1";

    public static double Of(RgbImage image) => image.Pixels.Average(b => (double)b) / 255.0;

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        images.Select(i => new RewardScore(Name, Of(i), new RewardEvidence())).ToList();
}

/// <summary>
/// Red minus the other channels; reports a caption and one whole-image segment labelled by the
/// dominant channel, judged "certain" when the prompt names it, so evidence travels end to end.
/// </summary>
public sealed class RednessReward : IReward
{
    public string Name => "redness";
    public string Version => "1";

    public static string Dominant(RgbImage image)
    {
        var (r, g, b) = image[0, 0];
        return r >= g && r >= b ? "red" : g >= b ? "green" : "blue";
    }

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        images.Select(image =>
        {
            double red = 0, others = 0;
            for (int p = 0; p < image.Pixels.Length; p += 3) { red += image.Pixels[p]; others += (image.Pixels[p + 1] + image.Pixels[p + 2]) / 2.0; }
            int n = image.Width * image.Height;
            string label = Dominant(image);
            var bits = new bool[n];
            Array.Fill(bits, true, n / 2, n - n / 2); // the lower half, so the mask has two runs
            var segment = new Segment(label, 0.9, new Box(0, image.Height / 2, image.Width, image.Height - image.Height / 2),
                RunLengthMask.FromBits(image.Width, image.Height, bits));
            var verdict = prompt.Contains(label, StringComparison.OrdinalIgnoreCase) ? Verdict.Certain : Verdict.Unlikely;
            return new RewardScore(Name, (red - others) / n / 255.0,
                new RewardEvidence(Caption: $"a {label} square", Segments: [new JudgedSegment(segment, verdict)]));
        }).ToList();
}

/// <summary>A pack that needs no files and loads a given generator.</summary>
public sealed class TestPack(string name, IImageGenerator generator, PackCapabilities? capabilities = null) : IModelPack
{
    public string Name => name;
    public PackCapabilities Capabilities => capabilities ?? PackCapabilities.Unrestricted;
    public PackStatus Check() => new(name, "(in memory)", new PackManifest(name, "1", null, []), []);
    public IImageGenerator Load(CancellationToken cancellationToken) => generator;
}
