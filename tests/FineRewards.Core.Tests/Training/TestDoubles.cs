using FineRewards.Core.Packs;
using System.Security.Cryptography;
using System.Text;
using FineRewards.Contracts;
using FineRewards.Core.Training;

namespace FineRewards.Core.Tests.Training;

// Small deterministic stand-ins for the models, so the round engine is tested alone. None of them
// is a model: they make 8x8 images whose pixels encode the seed and the LoRA, and score pixels.

/// <summary>Test double: pixel 0 of candidate i is (seed + lora bias) mod 256, the rest a hash of the prompt.</summary>
public sealed class TestDoubleGenerator : IImageGenerator
{
    public string Name => "test-double-generator";
    public List<GenerationRequest> Requests { get; } = [];
    /// <summary>Called before each Generate, with the number of calls so far (lets a test cancel mid-round).</summary>
    public Action<int>? BeforeGenerate { get; set; }

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        BeforeGenerate?.Invoke(Requests.Count);
        cancellationToken.ThrowIfCancellationRequested();
        Requests.Add(request);
        int bias = request.Loras?.Sum(l => File.ReadAllBytes(l.Path).Sum(b => b)) ?? 0;
        byte[] promptHash = SHA256.HashData(Encoding.UTF8.GetBytes(request.Prompt));
        var result = new List<GeneratedCandidate>();
        for (int i = 0; i < request.K; i++)
        {
            long seed = request.BaseSeed + i;
            var pixels = new byte[8 * 8 * 3];
            for (int j = 0; j < pixels.Length; j++) pixels[j] = promptHash[j % promptHash.Length];
            pixels[0] = (byte)((seed * 37 + bias) % 256);
            pixels[1] = (byte)(seed % 251);
            // Latents [1, 2, 2]: the seed mod 1000 (exact in a float), so a test can tell which candidate's latents reached the trainer.
            var latents = CandidateLatents.Create([seed % 1000, pixels[0], 0.5f, -1f], 1, 2, 2);
            result.Add(new GeneratedCandidate(i, seed, new RgbImage(8, 8, pixels), new Dictionary<string, string> { ["double"] = "yes" }, latents));
        }
        return result;
    }
}

/// <summary>Test double reward: a fixed function of one pixel byte, with evidence naming it.</summary>
public sealed class TestDoubleReward(string name, Func<RgbImage, double> score) : IReward
{
    public string Name => name;
    public string Version => "test-double-1";

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        images.Select(i => new RewardScore(name, score(i), new RewardEvidence(Caption: $"{name} saw {i.Pixels[0]}"))).ToList();
}

/// <summary>Test double trainer: records every call and writes a small file whose bytes depend on the pairs and the seed.</summary>
public sealed class TestDoubleTrainer : ILoraTrainer
{
    public sealed record Call(IReadOnlyList<string> Prompts, IReadOnlyList<string> ImageHashes, LoraTrainingOptions Options, string Output,
        IReadOnlyList<CandidateLatents?> Latents, IReadOnlyList<TrainingImage?> Rejected);
    public List<Call> Calls { get; } = [];

    public string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var hashes = pairs.Select(p => Convert.ToHexStringLower(SHA256.HashData(p.Image.Pixels))).ToList();
        Calls.Add(new Call(pairs.Select(p => p.Prompt).ToList(), hashes, options, outputPath, pairs.Select(p => p.Latents).ToList(),
            pairs.Select(p => p.Rejected).ToList()));
        for (int s = 1; s <= options.Steps; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new TrainingProgress(s, options.Steps, 1.0 / s));
        }
        byte[] content = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", hashes) + options.Seed))[..4];
        File.WriteAllBytes(outputPath, content);
        return outputPath;
    }
}

/// <summary>Test double ground truth: an image is "correct" when pixel 0 is even.</summary>
public sealed class TestDoubleGroundTruth : IGroundTruth
{
    public string Name => "test-double-truth";
    public GroundTruthVerdict Evaluate(string prompt, RgbImage image) =>
        new(prompt.StartsWith("two", StringComparison.Ordinal) ? "counting" : "single", image.Pixels[0] % 2 == 0,
            image.Pixels[0] % 2 == 0 ? [] : ["pixel 0 is odd"]);
}

public sealed class TestDoubleRuntime : IModelPack
{
    public string Name => "test-pack";
    public PackStatus Check() => new(Name, "(in memory)", new PackManifest(Name, "1", null, []), []);
    public PackCapabilities Capabilities { get; } = new(["bright", "dark", "second"]);
    public IReadOnlyList<string> ProbePrompts => [];
    public TestDoubleGenerator TestGenerator { get; } = new();
    public TestDoubleTrainer TestTrainer { get; } = new();
    public IImageGenerator? Generator => TestGenerator;
    public ILoraTrainer? Trainer => TestTrainer;
    public IGroundTruth? GroundTruth { get; } = new TestDoubleGroundTruth();
    public GenerationSettings DefaultGeneration { get; } = new(Steps: 2, Width: 8, Height: 8);

    public IReward CreateReward(string name) => name switch
    {
        "bright" => new TestDoubleReward(name, i => i.Pixels[0] / 255.0),
        "dark" => new TestDoubleReward(name, i => 1 - i.Pixels[0] / 255.0),
        "second" => new TestDoubleReward(name, i => i.Pixels[1] / 251.0),
        _ => throw new InputException("--rewards", $"no reward {name}"),
    };

    public void ValidatePrompt(string prompt, string field)
    {
        if (prompt.Contains('?')) throw new InputException(field, "test pack prompts have no question marks");
    }

    public void Dispose() { }
}
