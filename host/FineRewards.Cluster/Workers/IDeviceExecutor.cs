using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Workers;

/// <summary>A LoRA a job asks for, resolved to the shared folder.</summary>
public sealed record ResolvedLora(string Id, string Path, string Sha256, double Scale);

/// <summary>A best-of-K job as a worker runs it: candidate i uses BaseSeed + i, on every attempt.</summary>
/// <param name="Skipped">Candidates a client skipped during an earlier attempt (a re-run after a lost worker): never generated again.</param>
public sealed record GenerationWork(string JobId, GenerationJobSpec Spec, long BaseSeed, IReadOnlyList<ResolvedLora> Loras, int Attempt,
    IReadOnlyList<int>? Skipped = null)
{
    public IReadOnlyList<int> SkippedBefore => Skipped ?? [];
}

/// <summary>A training job as a worker runs it, with its profile's feedback from the cluster's shared store.</summary>
public sealed record TrainingWork(string TrainingId, TrainingJobSpec Spec, int Attempt, IReadOnlyList<FeedbackRecord> Feedback);

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

    /// <summary>
    /// Trains the LoRA, reporting started/progress/loss/round events (never the end); returns the LoRA's bytes
    /// (safetensors) and evidence, which the worker publishes to the shared folder and registry.
    /// </summary>
    Task<TrainedLora> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken cancellationToken);

    /// <summary>
    /// Skips a candidate of the generation job this device runs, reporting its skipped event through the run's
    /// <c>append</c> before it returns; no event about the candidate follows.
    /// </summary>
    /// <exception cref="HostException">The job does not run here, has ranked, or this is its last candidate.</exception>
    Task<SkipOutcome> SkipAsync(string jobId, int candidateIndex) =>
        throw new HostException(RefusalKind.NotSupported, "candidate_index", "this worker's device does not skip candidates; let the job finish, or cancel it");
}
