using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Workers;

/// <summary>A LoRA a job asks for, resolved to the shared folder.</summary>
public sealed record ResolvedLora(string Id, string Path, string Sha256, double Scale);

/// <summary>A best-of-K job as a worker runs it: candidate i uses BaseSeed + i, on every attempt.</summary>
public sealed record GenerationWork(string JobId, GenerationJobSpec Spec, long BaseSeed, IReadOnlyList<ResolvedLora> Loras, int Attempt);

public sealed record TrainingWork(string TrainingId, TrainingJobSpec Spec, int Attempt);

/// <summary>
/// One device's models, as a worker grain drives them. The host's runners (generation, training)
/// sit behind it on a real device; tests and <c>bench cluster</c> use doubles that take a fixed
/// time per step. Runs off the grain's thread; <c>append</c> returns false when the job no longer
/// wants events (it finished, or this attempt was superseded): stop then.
/// </summary>
public interface IDeviceExecutor
{
    /// <summary>Packs this device can load.</summary>
    IReadOnlyList<string> Packs { get; }

    /// <summary>Runs the job and reports every event up to and including its last (completed, failed or cancelled).</summary>
    Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken cancellationToken);

    /// <summary>Trains the LoRA, reporting started/progress/loss/round events; returns the LoRA file's bytes (safetensors).</summary>
    Task<byte[]> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken cancellationToken);
}
