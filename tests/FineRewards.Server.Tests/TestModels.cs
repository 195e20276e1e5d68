using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
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

/// <summary>
/// A model whose LoRAs do what their file says: a LoRA file reading "red+N" (or "red-N") adds N to (takes N from) every
/// pixel's red channel, so a test trainer can write a LoRA that raises or lowers the brightness and redness rewards.
/// Without a LoRA it draws what <see cref="SolidColourGenerator"/> draws.
/// </summary>
public sealed class LoraShiftGenerator : IImageGenerator
{
    readonly SolidColourGenerator inner = new();
    public string Name => "lora-shift";
    public int Calls => inner.Calls;

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var candidates = inner.Generate(request, progress, cancellationToken);
        int shift = (request.Loras ?? []).Sum(l => File.ReadAllText(l.Path) is var text && text.StartsWith("red", StringComparison.Ordinal) ? int.Parse(text[3..]) : 0);
        if (shift == 0) return candidates;
        return candidates.Select(c =>
        {
            var pixels = c.Image.Pixels.ToArray();
            for (int p = 0; p < pixels.Length; p += 3) pixels[p] = (byte)Math.Clamp(pixels[p] + shift, 0, 255);
            return c with { Image = new RgbImage(c.Image.Width, c.Image.Height, pixels) };
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

/// <summary>A pack that needs no files: a given generator, rewards, trainer and probes; <paramref name="checkPrompt"/> stands in for a grammar.</summary>
public sealed class TestPack(string name, IImageGenerator generator, IReadOnlyList<IReward>? rewards = null, ILoraTrainer? trainer = null,
    IReadOnlyList<string>? probes = null, PackCapabilities? capabilities = null, Action<string, string>? checkPrompt = null,
    GenerationSettings? generation = null) : IModelPack
{
    readonly IReadOnlyList<IReward> rewards = rewards ?? [new BrightnessReward(), new RednessReward()];
    public string Name => name;
    public PackStatus Check() => new(name, "(in memory)", new PackManifest(name, "1", null, []), []);
    public PackCapabilities Capabilities => (capabilities ?? PackCapabilities.Unrestricted).Resolve(rewards.Select(r => r.Name).ToList());
    public GenerationSettings DefaultGeneration { get; } = generation ?? new();
    public IReadOnlyList<string> ProbePrompts => probes ?? [];
    public IImageGenerator? Generator => generator;
    public ILoraTrainer? Trainer => trainer;
    public IGroundTruth? GroundTruth => null;
    public IReward CreateReward(string reward) => rewards.FirstOrDefault(r => r.Name == reward) ?? throw new InputException("rewards", $"no reward {reward}");
    public void ValidatePrompt(string prompt, string field) => checkPrompt?.Invoke(prompt, field);
    public void Dispose() { }
}

/// <summary>A pack whose files are not where the host looks (a folder that does not exist).</summary>
public sealed class MissingPack(string name, PackLocator locator) : IModelPack
{
    public string Name => name;
    public PackStatus Check() => locator.Find(name) with { Fix = $"put pack \"{name}\" under {locator.SearchRoots[0]}" };
    public PackCapabilities Capabilities { get; } = new(["brightness"]);
    public GenerationSettings DefaultGeneration { get; } = new();
    public IReadOnlyList<string> ProbePrompts => [];
    public IImageGenerator? Generator => throw new InvalidOperationException("a missing pack is never loaded");
    public ILoraTrainer? Trainer => null;
    public IGroundTruth? GroundTruth => null;
    public IReward CreateReward(string reward) => throw new InvalidOperationException("a missing pack is never loaded");
    public void ValidatePrompt(string prompt, string field) { }
    public void Dispose() { }
}

/// <summary>Test double LoRA trainer: records the pairs, reports a falling loss per step, writes a small file.</summary>
public sealed class RecordingTrainer : ILoraTrainer
{
    public readonly List<(IReadOnlyList<string> Prompts, LoraTrainingOptions Options)> Calls = [];
    /// <summary>The sizes of the images of every call, in call order.</summary>
    public readonly List<IReadOnlyList<(int Width, int Height)>> Sizes = [];
    /// <summary>Each call's pairs' rejected images (the preference objective's), in call order.</summary>
    public readonly List<IReadOnlyList<TrainingImage?>> Rejected = [];
    /// <summary>When set, the call numbered <see cref="GateCall"/> (0-based) waits for it after its first step (cancellation still works).</summary>
    public ManualResetEventSlim? Gate { get; init; }
    public int GateCall { get; init; }
    /// <summary>When set, the LoRA file holds this text (what <see cref="LoraShiftGenerator"/> reads) instead of a hash of the pairs.</summary>
    public string? Writes { get; init; }

    public string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        int call;
        lock (Calls)
        {
            call = Calls.Count;
            Calls.Add((pairs.Select(p => p.Prompt).ToList(), options));
            Sizes.Add(pairs.Select(p => (p.Image.Width, p.Image.Height)).ToList());
            Rejected.Add(pairs.Select(p => p.Rejected).ToList());
        }
        for (int s = 1; s <= options.Steps; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new TrainingProgress(s, options.Steps, 1.0 / s));
            if (s == 1 && call == GateCall) Gate?.Wait(cancellationToken);
        }
        if (Writes is not null) File.WriteAllText(outputPath, Writes);
        else File.WriteAllBytes(outputPath, SHA256.HashData(pairs.SelectMany(p => p.Image.Pixels).ToArray()));
        return outputPath;
    }
}
