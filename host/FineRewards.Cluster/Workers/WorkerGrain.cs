using System.Diagnostics;
using FineRewards.Contracts;
using System.Security.Cryptography;
using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Storage;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace FineRewards.Cluster.Workers;

[DeviceSiloPlacement]
public sealed class WorkerGrain(IClusterStore store, IOptions<ClusterSiloOptions> options, ILogger<WorkerGrain> logger) : Grain, IWorkerGrain
{
    IDeviceExecutor executor = null!;
    string? loadedPack;
    string loadedLoraKey = "";
    Assignment? running;
    CancellationTokenSource? cancel;
    long assigned, finished, version;
    readonly Stopwatch up = new(), busy = new();

    string Id => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        executor = ServiceProvider.GetRequiredKeyedService<IDeviceExecutor>(WorkerKey.Parse(Id).Device);
        up.Start();
        // The scheduler learns what the worker has loaded and that it is alive from these; it learns
        // that it is dead from the cluster's membership (a silo declared dead by its peers).
        this.RegisterGrainTimer(Heartbeat, new GrainTimerCreationOptions(TimeSpan.Zero, options.Value.HeartbeatInterval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    Task Heartbeat(CancellationToken _) => GrainFactory.GetGrain<ISchedulerGrain>(SchedulerGrain.Key).Heartbeat(Snapshot());

    WorkerStatus Snapshot() => new(Id, executor.Packs, loadedPack, loadedLoraKey, running?.JobId, assigned, finished,
        busy.Elapsed.TotalSeconds, up.Elapsed.TotalSeconds, ++version);

    public Task<WorkerStatus> Start() => Task.FromResult(Snapshot());

    public Task<WorkerStatus> Status() => Task.FromResult(Snapshot());

    public Task<bool> Assign(Assignment assignment)
    {
        if (running is not null) return Task.FromResult(running.JobId == assignment.JobId && running.Attempt == assignment.Attempt);
        running = assignment;
        assigned++;
        busy.Start();
        cancel = new CancellationTokenSource();
        var self = this.AsReference<IWorkerGrain>();
        var job = GrainFactory.GetGrain<IJobGrain>(assignment.JobId);
        var token = cancel.Token;
        // The models run outside the grain's turn so status and cancel calls are answered meanwhile;
        // grain references are taken here, where the grain's context is.
        _ = Task.Run(() => RunAsync(assignment, self, job, token));
        logger.LogInformation("worker {Worker}: job {Job} attempt {Attempt} started", Id, assignment.JobId, assignment.Attempt);
        return Task.FromResult(true);
    }

    public Task<bool> Cancel(string jobId)
    {
        if (running?.JobId != jobId) return Task.FromResult(false);
        cancel?.Cancel();
        return Task.FromResult(true);
    }

    public async Task<SkipAnswer> Skip(string jobId, int candidateIndex)
    {
        if (running?.JobId != jobId || running.Kind != WorkKind.Generation)
            return SkipAnswer.Refused(RefusalKind.FailedPrecondition, "job_id", $"job {jobId} is not running on worker {Id} any more; try again, or cancel it", JobState.Running);
        try
        {
            var outcome = await executor.SkipAsync(jobId, candidateIndex);
            logger.LogInformation("worker {Worker}: job {Job} candidate {Candidate} skipped ({Outcome})", Id, jobId, candidateIndex, outcome);
            return new SkipAnswer(outcome, 0, JobState.Running, null, "", "");
        }
        catch (HostException e) { return SkipAnswer.Refused(e.Kind, e.Field, e.Reason, JobState.Running); }
    }

    public Task RunEnded(string jobId, string pack, string loraKey)
    {
        if (running?.JobId != jobId) return Task.CompletedTask;
        running = null;
        finished++;
        busy.Stop();
        loadedPack = pack;
        loadedLoraKey = loraKey;
        cancel?.Dispose();
        cancel = null;
        return GrainFactory.GetGrain<ISchedulerGrain>(SchedulerGrain.Key).WorkerFree(Snapshot());
    }

    /// <summary>How often a batch of events is offered to an unreachable job grain, waiting 200 ms, 400 ms, ... between (about 9 s in all).</summary>
    const int SendTries = 10;
    static readonly TimeSpan SendRetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>A grain call that did not reach its grain (its silo is gone or going): not a failure of the job.</summary>
    static bool IsUnreachable(Exception e) => e is SiloUnavailableException or OrleansMessageRejectionException;

    async Task RunAsync(Assignment a, IWorkerGrain self, IJobGrain job, CancellationToken token)
    {
        // A job grain whose silo just died answers "unavailable" until membership has declared that silo dead
        // and the grain's next call activates it elsewhere: the events wait for it (the grain drops a repeat by
        // its once key) instead of failing a job that is running fine.
        async Task<bool> Send(IReadOnlyList<EventDraft> drafts)
        {
            for (int tries = 1; ; tries++)
            {
                try { return await job.Append(a.Attempt, drafts) == AppendOutcome.Appended; }
                catch (Exception e) when (IsUnreachable(e) && tries < SendTries)
                {
                    logger.LogWarning("worker {Worker}: job {Job}'s grain unreachable ({Error}); try {Try} of {Tries}", Id, a.JobId, e.GetType().Name, tries, SendTries);
                    await Task.Delay(SendRetryDelay * tries);
                }
            }
        }
        string pack = "", loraKey = "";
        try
        {
            if (a.Kind == WorkKind.Generation)
            {
                var spec = GenerationJobSpec.FromJson(a.SpecJson);
                pack = spec.Pack;
                loraKey = LoraKeys.Of(spec);
                try
                {
                    // Skips reach this run through the job's grain.
                    await job.Attach(a.Attempt, Id);
                    var loras = await ResolveLorasAsync(spec);
                    // Only a job that ran before can have skipped candidates (a queued job's skip is refused).
                    IReadOnlyList<int> skipped = a.Attempt == 0 ? [] : [.. (await job.After(0, TimeSpan.Zero)).Events
                        .Select(e => JobEventData.FromJson(e.Json)).OfType<CandidateSkippedEvent>().Select(e => e.CandidateIndex)];
                    await executor.GenerateAsync(new GenerationWork(a.JobId, spec, a.BaseSeed, loras, a.Attempt, skipped),
                        events => Send(events.Select(OnceKeys.Draft).ToList()), token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    await Send([OnceKeys.Draft(new JobCancelledEvent(JobCancelledEvent.Interrupted))]);
                }
                catch (Exception e) when (IsUnreachable(e))
                {
                    throw;   // not the model's fault: the scheduler re-queues or fails the job
                }
                catch (Exception e)
                {
                    logger.LogError(e, "worker {Worker}: job {Job} failed", Id, a.JobId);
                    await Send([OnceKeys.Draft(new JobFailedEvent(FailureCode.ModelError, $"{e.GetType().Name}: {e.Message}",
                        $"see the log of the silo owning {Id}; try again, and report it if it repeats"))]);
                }
            }
            else
            {
                var spec = TrainingJobSpec.FromJson(a.SpecJson);
                pack = spec.Pack;
                try
                {
                    // Every silo's feedback is in the shared store; the spec names which of it the job trains on.
                    var feedback = await store.FeedbackOfAsync(spec.ProfileId);
                    var lora = await executor.TrainAsync(new TrainingWork(a.JobId, spec, a.Attempt, feedback),
                        events => Send(events.Select(OnceKeys.Draft).ToList()), token);
                    // Published and registered before the completed event: a watcher that sees it can use the LoRA on any worker.
                    var record = await PublishLoraAsync(a.JobId, spec, lora);
                    await Send([OnceKeys.Draft(new TrainingCompletedEvent(record.Id, record.Path, record.Sha256, lora.Evaluation))]);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    await Send([OnceKeys.Draft(new TrainingCancelledEvent(JobCancelledEvent.Interrupted))]);
                }
                catch (Exception e) when (IsUnreachable(e))
                {
                    throw;
                }
                catch (Exception e)
                {
                    logger.LogError(e, "worker {Worker}: training {Job} failed", Id, a.JobId);
                    await Send([OnceKeys.Draft(TrainingRunner.Failed(e, $"the log of the silo owning {Id}"))]);
                }
            }
        }
        catch (Exception e)
        {
            // The job grain or the store could not be reached: the scheduler re-queues or fails the job.
            logger.LogError(e, "worker {Worker}: job {Job} could not report", Id, a.JobId);
        }
        finally
        {
            try { await self.RunEnded(a.JobId, pack, loraKey); }
            catch (Exception e) { logger.LogError(e, "worker {Worker}: could not report the end of job {Job}", Id, a.JobId); }
        }
    }

    async Task<IReadOnlyList<ResolvedLora>> ResolveLorasAsync(GenerationJobSpec spec)
    {
        var resolved = new List<ResolvedLora>();
        for (int i = 0; i < spec.Loras.Count; i++)
        {
            var reference = spec.Loras[i];
            var record = await store.FindLoraAsync(reference.Path)
                ?? throw new FineRewards.Contracts.InputException($"loras[{i}].name", $"no LoRA '{reference.Path}' in the cluster's registry");
            resolved.Add(new ResolvedLora(record.Id, record.Path, record.Sha256, reference.Scale));
        }
        return resolved;
    }

    /// <summary>Writes the LoRA to the shared folder under its SHA-256 (temporary name, then rename) and registers it, with its evidence, for every worker.</summary>
    async Task<LoraRecord> PublishLoraAsync(string trainingId, TrainingJobSpec spec, TrainedLora lora)
    {
        string sha = Convert.ToHexStringLower(SHA256.HashData(lora.Bytes));
        string folder = Path.Combine(options.Value.SharedFolder, "loras");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, sha + ".safetensors");
        if (!File.Exists(path))
        {
            string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                await file.WriteAsync(lora.Bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        var record = new LoraRecord(trainingId, spec.Pack, path, sha, Id, DateTimeOffset.UtcNow, spec.ProfileId, lora.Evaluation.Activated, lora.Metrics, lora.Evaluation);
        await store.RegisterLoraAsync(record);
        logger.LogInformation("worker {Worker}: LoRA {Lora} ({Sha}) of profile {Profile} published to {Path}: {Verdict}", Id, trainingId, sha[..12], spec.ProfileId, path, lora.Describe());
        return record;
    }
}
