using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;

namespace FineRewards.Server.Training;

/// <summary>
/// A served pack as the round engine wants it in the host: the catalog's loaded generator and rewards
/// (shared with generation jobs) and the pack's own trainer and settings. No ground truth: the host
/// reports rewards, never a world's accuracy, whatever the pack.
/// </summary>
public sealed class HostPackRuntime(IModelPack pack, IImageGenerator generator, Func<string, IReward> reward) : IModelPack
{
    public string Name => pack.Name;
    public PackStatus Check() => pack.Check();
    public PackCapabilities Capabilities => pack.Capabilities;
    public GenerationSettings DefaultGeneration => pack.DefaultGeneration;
    public IReadOnlyList<string> ProbePrompts => pack.ProbePrompts;
    public IImageGenerator? Generator => generator;
    public ILoraTrainer? Trainer => pack.Trainer;
    public IGroundTruth? GroundTruth => null;
    public IReward CreateReward(string name) => reward(name);
    public void ValidatePrompt(string prompt, string field) => pack.ValidatePrompt(prompt, field);
    /// <summary>The catalog owns the pack.</summary>
    public void Dispose() { }
}
