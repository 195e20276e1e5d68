using FineRewards.Contracts;
using FineRewards.Core.Packs;

namespace FineRewards.Server.Models;

/// <summary>What the process that starts the host gives it to serve.</summary>
/// <param name="Packs">The packs, each with its generator, LoRA trainer, rewards and probe prompts (the host owns none of them).</param>
/// <param name="Judges">The label judges, listed in GetCapabilities.</param>
public sealed record HostModels(
    IReadOnlyList<IModelPack> Packs,
    IReadOnlyList<ILabelJudge> Judges,
    DeviceInfo Device,
    string DefaultPack = "shapes");
