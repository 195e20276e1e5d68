using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// A device double: each denoising step takes <see cref="StepTime"/>; candidate i's image id is a hash
/// of its seed and the LoRAs' contents, so a re-run on another device gives the same candidates
/// exactly when it uses the same seeds and the same LoRA files. Records what it ran and how many ran at once.
/// </summary>
public sealed class FakeDevice(params string[] packs) : IDeviceExecutor
{
    public IReadOnlyList<string> Packs { get; } = packs;
    public TimeSpan StepTime { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Jobs that wait, after their first two candidates (a training: its first loss) are reported, until the test releases them (attempt 0 only).</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Holds { get; } = new();
    /// <summary>(job id, attempt) in the order runs started.</summary>
    public ConcurrentQueue<(string JobId, int Attempt)> Started { get; } = new();
    /// <summary>The SHA-256 of each LoRA file a job loaded, by job id.</summary>
    public ConcurrentDictionary<string, string[]> LorasSeen { get; } = new();
    public int MaxConcurrent => maxConcurrent;
    int concurrent, maxConcurrent;

    public TaskCompletionSource Hold(string jobId) => Holds.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void ReleaseAll()
    {
        foreach (var h in Holds.Values) h.TrySetResult();
    }

    public static string ImageIdOf(long seed, IEnumerable<string> loraShas) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}|{string.Join(",", loraShas)}")));

    IDisposable Enter()
    {
        int now = Interlocked.Increment(ref concurrent);
        int seen;
        while (now > (seen = maxConcurrent) && Interlocked.CompareExchange(ref maxConcurrent, now, seen) != seen) { }
        return new Leave(() => Interlocked.Decrement(ref concurrent));
    }

    sealed class Leave(Action leave) : IDisposable
    {
        public void Dispose() => leave();
    }

    /// <summary>A running job's candidates as skips see them: the lock orders a skip against the device's own events.</summary>
    sealed class Run(Func<IReadOnlyList<JobEventData>, Task<bool>> append, long baseSeed, int k)
    {
        public readonly SemaphoreSlim Lock = new(1, 1);
        public readonly HashSet<int> Skipped = [], Ready = [];
        public bool Ranked;
        public Func<IReadOnlyList<JobEventData>, Task<bool>> Append => append;
        public long BaseSeed => baseSeed;
        public int K => k;
    }

    readonly ConcurrentDictionary<string, Run> runs = new();

    public async Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken ct)
    {
        using var entered = Enter();
        Started.Enqueue((work.JobId, work.Attempt));
        // The LoRA comes from the shared folder the worker resolved it to; its bytes must match the registry's hash.
        var shas = work.Loras.Select(l =>
        {
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(l.Path)));
            if (sha != l.Sha256) throw new InvalidDataException($"LoRA {l.Id}: {l.Path} has SHA-256 {sha}, the registry says {l.Sha256}");
            return sha;
        }).ToArray();
        LorasSeen[work.JobId] = shas;
        var spec = work.Spec;
        var run = runs[work.JobId] = new Run(append, work.BaseSeed, spec.K);
        run.Skipped.UnionWith(work.SkippedBefore);
        try
        {
            if (!await append([new JobStartedEvent(spec.Pack, work.BaseSeed)])) return;
            for (int step = 1; step <= spec.Steps; step++)
            {
                await Task.Delay(StepTime, ct);
                if (!await append([new StepProgressEvent(step, spec.Steps, 0, spec.K)])) return;
            }
            // Candidates not skipped are reported ready, under the lock, so no event about a skipped one follows its skip.
            async Task<bool> ReadyAsync(IEnumerable<int> indices)
            {
                await run.Lock.WaitAsync(ct);
                try
                {
                    var ready = indices.Where(i => !run.Skipped.Contains(i)).ToList();
                    run.Ready.UnionWith(ready);
                    return ready.Count == 0 || await append([.. ready.Select(i => new CandidateReadyEvent(i, work.BaseSeed + i, ImageIdOf(work.BaseSeed + i, shas), null))]);
                }
                finally { run.Lock.Release(); }
            }
            if (work.Attempt == 0 && Holds.TryGetValue(work.JobId, out var hold))
            {
                if (!await ReadyAsync(Enumerable.Range(0, Math.Min(2, spec.K)))) return;
                await hold.Task.WaitAsync(ct);
                if (!await ReadyAsync(Enumerable.Range(2, Math.Max(0, spec.K - 2)))) return;
            }
            else if (!await ReadyAsync(Enumerable.Range(0, spec.K))) return;
            await run.Lock.WaitAsync(ct);
            try
            {
                run.Ranked = true;
                var kept = Enumerable.Range(0, spec.K).Where(i => !run.Skipped.Contains(i)).ToList();
                var scored = kept.Select(i => (JobEventData)new CandidateScoredEvent(i, [], (work.BaseSeed + i) % 7, ImageIdOf(work.BaseSeed + i, shas))).ToList();
                var order = kept.OrderByDescending(i => (work.BaseSeed + i) % 7).ThenBy(i => i).ToList();
                await append([.. scored, new JobRankedEvent(order, order[0], CombineMethod.Arl.ToString()), new JobCompletedEvent()]);
            }
            finally { run.Lock.Release(); }
        }
        finally { runs.TryRemove(work.JobId, out _); }
    }

    /// <summary>As the host's runner: a candidate not generated yet is never made, one already reported loses its scores and place.</summary>
    public async Task<SkipOutcome> SkipAsync(string jobId, int candidateIndex)
    {
        if (!runs.TryGetValue(jobId, out var run)) throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {jobId} is not generating on this device");
        await run.Lock.WaitAsync();
        try
        {
            if (run.Skipped.Contains(candidateIndex)) return SkipOutcome.AlreadySkipped;
            if (run.Ranked) throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {jobId} has already ranked its candidates");
            if (run.Skipped.Count == run.K - 1) throw new HostException(RefusalKind.FailedPrecondition, "candidate_index", $"candidate {candidateIndex} is the last one left");
            var outcome = run.Ready.Contains(candidateIndex) ? SkipOutcome.ResultDropped : SkipOutcome.NotGenerated;
            run.Skipped.Add(candidateIndex);
            await run.Append([new CandidateSkippedEvent(candidateIndex, run.BaseSeed + candidateIndex, outcome)]);
            return outcome;
        }
        finally { run.Lock.Release(); }
    }

    /// <summary>The feedback each training job was given, by training id.</summary>
    public ConcurrentDictionary<string, IReadOnlyList<FineRewards.Server.Storage.FeedbackRecord>> FeedbackSeen { get; } = new();
    /// <summary>The verdict a trained LoRA gets (Raised: it becomes its profile's active one).</summary>
    public LoraVerdict Verdict { get; init; } = LoraVerdict.Raised;

    public async Task<TrainedLora> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken ct)
    {
        using var _ = Enter();
        Started.Enqueue((work.TrainingId, work.Attempt));
        var pairs = work.Spec.FeedbackIds is { } ids ? work.Feedback.Where(f => ids.Contains(f.Id)).ToList() : [.. work.Feedback];
        FeedbackSeen[work.TrainingId] = pairs;
        await append([new TrainingStartedEvent(work.Spec.Pack, pairs.Count, 1, 1)]);
        for (int step = 1; step <= 3; step++)
        {
            await Task.Delay(StepTime, ct);
            await append([new TrainingLossEvent(1, step, 3, 1.0 / step)]);
            if (step == 1 && work.Attempt == 0 && Holds.TryGetValue(work.TrainingId, out var hold)) await hold.Task.WaitAsync(ct);
        }
        var evaluation = new LoraEvaluation([new RewardChange("caption", 0.5, Verdict == LoraVerdict.Raised ? 0.6 : 0.4)], Verdict, 8, 8, 16,
            Activated: Verdict == LoraVerdict.Raised);
        return new TrainedLora(Encoding.UTF8.GetBytes($"fake safetensors of {work.TrainingId} seed {work.Spec.Seed} pairs {string.Join(",", pairs.Select(p => p.ImageId))}"),
            new Dictionary<string, double> { ["pairs"] = pairs.Count }, evaluation);
    }
}
