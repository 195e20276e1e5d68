using System.Security.Cryptography;
using System.Text;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Workers;

/// <summary>
/// A device whose every denoising step takes <see cref="StepTime"/> and no processor: what
/// <c>bench cluster</c> schedules, since a 2-core machine cannot show a cluster's scaling with real
/// models. Candidate i's image id is the SHA-256 of its seed, so runs are comparable.
/// </summary>
public sealed class TimedDevice(IReadOnlyList<string> packs, TimeSpan stepTime) : IDeviceExecutor
{
    public IReadOnlyList<string> Packs { get; } = packs;
    public TimeSpan StepTime { get; } = stepTime;

    public static string ImageIdOf(long seed) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"timed:{seed}")));

    public async Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken cancellationToken)
    {
        var spec = work.Spec;
        if (!await append([new JobStartedEvent(spec.Pack, work.BaseSeed)])) return;
        // As the host's runner does, progress is reported beside the steps, not between them: one report in flight at most.
        Task<bool> reported = Task.FromResult(true);
        for (int step = 1; step <= spec.Steps; step++)
        {
            await Task.Delay(StepTime, cancellationToken);
            if (!await reported) return;
            reported = append([new StepProgressEvent(step, spec.Steps, 0, spec.K)]);
        }
        if (!await reported) return;
        var ready = Enumerable.Range(0, spec.K).Select(i => (JobEventData)new CandidateReadyEvent(i, work.BaseSeed + i, ImageIdOf(work.BaseSeed + i), null));
        if (!await append([.. ready])) return;
        var scored = Enumerable.Range(0, spec.K).Select(i => (JobEventData)new CandidateScoredEvent(i, [], 0, ImageIdOf(work.BaseSeed + i)));
        await append([.. scored, new JobRankedEvent([.. Enumerable.Range(0, spec.K)], 0, "timed"), new JobCompletedEvent()]);
    }

    public async Task<TrainedLora> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken cancellationToken)
    {
        await append([new TrainingStartedEvent(work.Spec.Pack, 0, 0, 1)]);
        await Task.Delay(StepTime, cancellationToken);
        return new TrainedLora(Encoding.UTF8.GetBytes($"timed LoRA {work.TrainingId}"), new Dictionary<string, double>(),
            new LoraEvaluation([], LoraVerdict.Unchanged, 0, 0, 0));
    }
}
