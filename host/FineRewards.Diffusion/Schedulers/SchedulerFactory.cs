using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Diffusion.Schedulers;

/// <summary>Schedulers by their short name, as the CLI and run configs spell them.</summary>
public static class SchedulerFactory
{
    public static IReadOnlyList<string> Names { get; } = ["ddim", "euler", "euler_a", "dpmpp_2m"];

    public static IScheduler Create(string name, SchedulerConfig? config = null)
    {
        config ??= SchedulerConfig.StableDiffusion;
        return name.ToLowerInvariant() switch
        {
            "ddim" => new DdimScheduler(config),
            "euler" => new EulerDiscreteScheduler(config),
            "euler_a" => new EulerAncestralDiscreteScheduler(config),
            "dpmpp_2m" => new DpmSolverMultistepScheduler(config),
            _ => throw new InputException("scheduler", $"unknown scheduler \"{name}\"; expected one of {string.Join(", ", Names)}"),
        };
    }
}
