using FineRewards.Core.Contracts;

namespace FineRewards.Server.Models;

/// <summary>What the process that starts the host gives it to serve.</summary>
public sealed record HostModels(
    IReadOnlyList<IModelPack> Packs,
    IReadOnlyList<IReward> Rewards,
    IReadOnlyList<ILabelJudge> Judges,
    DeviceInfo Device,
    string DefaultPack = "shapes");
