using System.Collections.Concurrent;
using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Server;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace FineRewards.Cluster.Workers;

/// <summary>
/// A real device: the host's own <see cref="JobRunner"/> and <see cref="TrainingRunner"/> (the packs of the
/// silo's <c>ModelCatalog</c>, loaded through the pack registry; images in the <c>ImageStore</c> on the shared
/// folder) run the job exactly as on one machine, and its events go to the job's grain. LoRAs come from the
/// shared folder, each checked against the hash the registry holds before it is loaded; a trained LoRA goes
/// back to the worker, which publishes it (the silo's own SQLite never sees it).
/// </summary>
public sealed class RunnerDevice(JobRunner runner, TrainingRunner training, IReadOnlyList<string> packs) : IDeviceExecutor
{
    public IReadOnlyList<string> Packs { get; } = packs;

    /// <summary>
    /// A device outside a silo's service container (the cluster bench, tests): the runners over <paramref name="catalog"/>,
    /// the silo's own data folder for its SQLite and run folders, images in <paramref name="sharedFolder"/>.
    /// </summary>
    public static RunnerDevice Create(ModelCatalog catalog, string dataDirectory, string sharedFolder, IReadOnlyList<string> packs)
    {
        var options = new HostOptions(dataDirectory, LogToConsole: false);
        var images = new ImageStore(Path.Combine(sharedFolder, "images"));
        var feedback = new FeedbackStore(new HostDatabase(options.DatabasePath), images, options.Limits, NullLogger<FeedbackStore>.Instance);
        var training = new TrainingRunner(catalog, options, feedback, images, new TrainingDatabase(options.DatabasePath), NullLogger<TrainingRunner>.Instance);
        return new RunnerDevice(new JobRunner(catalog, images, NullLogger<JobRunner>.Instance), training, packs);
    }

    // The generation jobs running here, for skips: the runner's own job and how its events reach the grain.
    readonly ConcurrentDictionary<string, (Job Job, Reporter<JobEventData> Report)> running = new(StringComparer.Ordinal);

    public async Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken cancellationToken)
    {
        for (int i = 0; i < work.Loras.Count; i++)
        {
            var lora = work.Loras[i];
            if (!File.Exists(lora.Path)) throw new InputException($"loras[{i}].name", $"LoRA {lora.Id}: no file {lora.Path} in the shared folder on this silo");
            string sha;
            await using (var file = File.OpenRead(lora.Path)) sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            if (sha != lora.Sha256) throw new InputException($"loras[{i}].name", $"LoRA {lora.Id}: {lora.Path} has SHA-256 {sha}, the registry says {lora.Sha256}");
        }
        var spec = work.Spec with { Loras = [.. work.Loras.Select(l => new FineRewards.Contracts.LoraReference(l.Path, l.Scale))] };
        // The same job id, spec and base seed on every attempt: the candidates, their PNGs and image ids come out identical.
        var job = new Job(work.JobId, "cluster", spec, spec.Hash(), work.BaseSeed, DateTimeOffset.UtcNow);
        // Candidates skipped during a lost attempt stay skipped; their events are in the grain already.
        foreach (int index in work.SkippedBefore) job.Skip(index, e => new JobEvent(work.JobId, 0, DateTimeOffset.UtcNow, e));
        using var cancel = cancellationToken.Register(job.Cancellation.Cancel);
        // A superseded attempt or a finished job: stop the models; the cancelled event that follows is dropped.
        var report = new Reporter<JobEventData>(append, job.Cancellation.Cancel);
        running[work.JobId] = (job, report);
        try
        {
            await Task.Run(() => runner.RunAsync(job, e => report.Append(e), CancellationToken.None), CancellationToken.None);
        }
        finally
        {
            running.TryRemove(work.JobId, out _);
        }
    }

    public async Task<TrainedLora> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken cancellationToken)
    {
        using var superseded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var report = new Reporter<TrainingEventData>(append, superseded.Cancel);
        return await Task.Run(() => training.TrainAsync(work.TrainingId, work.Spec, work.Feedback, e => report.Append([e]), superseded.Token), CancellationToken.None);
    }

    public Task<SkipOutcome> SkipAsync(string jobId, int candidateIndex)
    {
        if (!running.TryGetValue(jobId, out var run))
            throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {jobId} is not generating on this worker (it has not started yet, or it has ended); try again, or cancel it");
        // The runner's job decides (ranked already, the last candidate left) and holds back the candidate's later events;
        // the skipped event reaches the grain before this returns. The grain, not this job, numbers it.
        return Task.Run(() => run.Job.Skip(candidateIndex, e =>
        {
            if (!run.Report.Append([e])) throw new HostException(RefusalKind.FailedPrecondition, "job_id", $"job {jobId} has ended; there is nothing left to skip");
            return new JobEvent(jobId, 0, DateTimeOffset.UtcNow, e);
        }).Outcome);
    }

    /// <summary>
    /// The runners append from their own threads, one batch after another, and expect each stored when the call
    /// returns: each batch waits for the grain. Once the grain wants no more (a superseded attempt, a finished job),
    /// later batches are dropped and <paramref name="stop"/> stops the models.
    /// </summary>
    sealed class Reporter<T>(Func<IReadOnlyList<T>, Task<bool>> append, Action stop)
    {
        readonly object gate = new();
        bool wanted = true;

        /// <summary>Stores the batch; false when it was dropped.</summary>
        public bool Append(IReadOnlyList<T> events)
        {
            lock (gate)
            {
                if (!wanted) return false;
                wanted = append(events).GetAwaiter().GetResult();
                if (!wanted) stop();
                return wanted;
            }
        }
    }
}
