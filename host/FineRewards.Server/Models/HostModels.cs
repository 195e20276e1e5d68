using FineRewards.Core.Contracts;

namespace FineRewards.Server.Models;

/// <summary>What the process that starts the host gives it to serve.</summary>
/// <param name="Trainers">LoRA trainers by pack name; a pack without one cannot run training jobs.</param>
/// <param name="TrainingSizes">The square side (pixels) a pack's LoRA learns at; accepted and edited images are
/// brought to it. A pack not listed trains at the host's default generation size (64, the shapes pack's canvas).</param>
/// <param name="ProbePrompts">Prompts by pack name that a new LoRA is also checked on when its profile has few prompts of its own.</param>
public sealed record HostModels(
    IReadOnlyList<IModelPack> Packs,
    IReadOnlyList<IReward> Rewards,
    IReadOnlyList<ILabelJudge> Judges,
    DeviceInfo Device,
    string DefaultPack = "shapes",
    IReadOnlyDictionary<string, ILoraTrainer>? Trainers = null,
    IReadOnlyDictionary<string, int>? TrainingSizes = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? ProbePrompts = null);
