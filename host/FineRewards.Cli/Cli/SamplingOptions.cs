using System.CommandLine;
using FineRewards.Core.Training;

namespace FineRewards.Cli.Cli;

/// <summary>`--sampler`, `--gen-steps`, `--guidance`: the pack's generation defaults, overridden per command (train, eval).</summary>
public sealed class SamplingOptions
{
    public Option<string?> Sampler { get; } = new("--sampler") { Description = "Sampler (default: the pack's)." };
    public Option<int?> Steps { get; } = new("--gen-steps") { Description = "Denoising steps per image (default: the pack's)." };
    public Option<double?> Guidance { get; } = new("--guidance") { Description = "Classifier-free guidance scale (default: the pack's)." };

    public IEnumerable<Option> All => [Sampler, Steps, Guidance];

    /// <summary>The pack's defaults with the options given on the command line.</summary>
    public GenerationSettings Apply(ParseResult parse, GenerationSettings defaults)
    {
        var generation = defaults;
        if (parse.GetValue(Sampler) is string s) generation = generation with { Sampler = s };
        if (parse.GetValue(Steps) is int steps) generation = generation with { Steps = steps };
        if (parse.GetValue(Guidance) is double g) generation = generation with { Guidance = g };
        return generation;
    }
}
