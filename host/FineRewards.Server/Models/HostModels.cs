using FineRewards.Core.Contracts;

namespace FineRewards.Server.Models;

/// <summary>What the process that starts the host gives it to serve.</summary>
/// <param name="Trainers">LoRA trainers by pack name; a pack without one cannot run training jobs.</param>
/// <param name="ProbePrompts">Prompts by pack name that a new LoRA is also checked on when its profile has few prompts of its own.</param>
public sealed record HostModels(
    IReadOnlyList<IModelPack> Packs,
    IReadOnlyList<IReward> Rewards,
    IReadOnlyList<ILabelJudge> Judges,
    DeviceInfo Device,
    string DefaultPack = "shapes",
    IReadOnlyDictionary<string, ILoraTrainer>? Trainers = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? ProbePrompts = null);
