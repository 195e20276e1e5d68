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

    /// <summary>Jobs that wait, after their first two candidates are reported, until the test releases them (attempt 0 only).</summary>
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

    public async Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken ct)
    {
        using var _ = Enter();
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
        if (!await append([new JobStartedEvent(spec.Pack, work.BaseSeed)])) return;
        for (int step = 1; step <= spec.Steps; step++)
        {
            await Task.Delay(StepTime, ct);
            if (!await append([new StepProgressEvent(step, spec.Steps, 0, spec.K)])) return;
        }
        var ready = new List<JobEventData>();
        for (int i = 0; i < spec.K; i++)
        {
            ready.Add(new CandidateReadyEvent(i, work.BaseSeed + i, ImageIdOf(work.BaseSeed + i, shas), null));
            if (i == 1 && work.Attempt == 0 && Holds.TryGetValue(work.JobId, out var hold))
            {
                if (!await append(ready)) return;
                ready.Clear();
                await hold.Task.WaitAsync(ct);
            }
        }
        if (!await append(ready)) return;
        var scored = Enumerable.Range(0, spec.K)
            .Select(i => (JobEventData)new CandidateScoredEvent(i, [], (work.BaseSeed + i) % 7, ImageIdOf(work.BaseSeed + i, shas))).ToList();
        var order = Enumerable.Range(0, spec.K).OrderByDescending(i => (work.BaseSeed + i) % 7).ThenBy(i => i).ToList();
        await append([.. scored, new JobRankedEvent(order, order[0], CombineMethod.Arl.ToString()), new JobCompletedEvent()]);
    }

    public async Task<byte[]> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken ct)
    {
        using var _ = Enter();
        Started.Enqueue((work.TrainingId, work.Attempt));
        await append([new TrainingStartedEvent(work.Spec.Pack, 1, 1, 1)]);
        for (int step = 1; step <= 3; step++)
        {
            await Task.Delay(StepTime, ct);
            await append([new TrainingLossEvent(1, step, 3, 1.0 / step)]);
        }
        return Encoding.UTF8.GetBytes($"fake safetensors of {work.TrainingId} seed {work.Spec.Seed}");
    }
}
