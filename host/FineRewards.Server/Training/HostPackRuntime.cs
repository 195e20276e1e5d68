using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.Training;

namespace FineRewards.Server.Training;

/// <summary>
/// The host's models for one pack as the round engine wants them: the catalog's loaded generator
/// and rewards, and the pack's LoRA trainer. The host has no ground truth (real packs have none).
/// </summary>
public sealed class HostPackRuntime(string pack, IImageGenerator generator, ILoraTrainer trainer, IReadOnlyList<IReward> rewards) : IPackRuntime
{
    public string Pack => pack;
    public IImageGenerator? Generator => generator;
    public ILoraTrainer? Trainer => trainer;
    public IGroundTruth? GroundTruth => null;
    public GenerationSettings DefaultGeneration { get; init; } = new();
    public IReadOnlyList<string> RewardNames => rewards.Select(r => r.Name).ToList();

    public IReward CreateReward(string name) =>
        rewards.FirstOrDefault(r => r.Name == name) ?? throw new InputException("options.rewards", $"the host has no reward \"{name}\"");

    public void ValidatePrompt(string prompt, string field) { }

    public void Dispose() { }
}
