using FineRewards.Contracts;

namespace FineRewards.Core.Training;

/// <summary>Generation settings a pack works best with (its image size, sampler and steps).</summary>
public sealed record GenerationSettings(
    string Sampler = GenerationDefaults.Sampler,
    int Steps = GenerationDefaults.Steps,
    double Guidance = GenerationDefaults.Guidance,
    int Width = GenerationDefaults.Size,
    int Height = GenerationDefaults.Size,
    string NegativePrompt = "");

/// <summary>The ground-truth verdict on one image (the Shapes world can tell; real packs cannot).</summary>
/// <param name="Task">The prompt's task (e.g. "counting"), for per-task accuracy.</param>
public sealed record GroundTruthVerdict(string Task, bool Correct, IReadOnlyList<string> Reasons);

/// <summary>Knows whether an image shows exactly what its prompt says. Evaluation only, never a reward.</summary>
public interface IGroundTruth
{
    string Name { get; }
    GroundTruthVerdict Evaluate(string prompt, RgbImage image);
}
