using FineRewards.Contracts;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Training;

/// <summary>
/// Training jobs and the LoRA registry: validates and stores a start request (idempotent by id),
/// queues the job in the host's one queue (<see cref="JobManager.Enqueue"/>), cancels it, and
/// lists, activates and deletes the LoRAs jobs made.
/// </summary>
public sealed class TrainingManager
{
    readonly TrainingDatabase db;
    readonly JobManager queue;
    readonly ModelCatalog catalog;
    readonly HostLimits limits;
    readonly FeedbackStore feedback;
    readonly TrainingRunner runner;
    readonly ILogger<TrainingManager> logger;
    readonly JobRegistry<TrainingJob> jobs;

    public TrainingManager(TrainingDatabase db, JobManager queue, ModelCatalog catalog, HostOptions options, FeedbackStore feedback,
        TrainingRunner runner, ILogger<TrainingManager> logger)
    {
        this.db = db;
        this.queue = queue;
        this.catalog = catalog;
        limits = options.Limits;
        this.feedback = feedback;
        this.runner = runner;
        this.logger = logger;
        jobs = new(id => db.LoadJob(id) is { } stored
            ? new TrainingJob(stored.Id, stored.ClientId, stored.Spec, stored.SpecHash, stored.Created, db.AppendEvent, runner.RunAsync, stored.State, stored.Events)
            : null);
        // Jobs the last process left queued or running go back in the queue: the round engine resumes
        // a run from its last finished step, so a restart costs only the step that was interrupted.
        foreach (string id in db.UnfinishedJobIds())
        {
            var job = Find(id)!;
            using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = id });
            logger.LogWarning("training job was {State} when the host stopped; queued again to resume", job.State.ToString().ToLowerInvariant());
            try
            {
                queue.Enqueue(job);
            }
            catch (HostException e)
            {
                job.Append(new TrainingFailedEvent(FailureCode.HostRestarted, $"host restarted and could not queue the job again: {e.Message}",
                    "start the training again with a new training id"));
            }
        }
    }

    public TrainingJob? Find(string id) => jobs.Find(id);

    public (TrainingJob Job, bool Existing) Start(TrainingSubmission submission)
    {
        var (id, client, spec) = TrainingJobSpec.Validate(submission, limits, catalog);
        string hash = spec.Hash();
        lock (jobs.Gate)
        {
            if (jobs.Existing(id, hash, j => j.SpecHash, "training_id", "training") is { } existing) return (existing, true);
            spec = spec.WithFeedback(feedback.List(spec.ProfileId));

            var created = DateTimeOffset.UtcNow;
            bool first = true;
            // The first event (queued) goes in with the job row, in one transaction.
            void Store(TrainingEvent e)
            {
                if (first) { db.InsertJob(id, client, spec, hash, created, e); first = false; }
                else db.AppendEvent(e);
            }
            var job = new TrainingJob(id, client, spec, hash, created, Store, runner.RunAsync);
            jobs.Add(id, job);
            try
            {
                queue.Enqueue(job);
            }
            catch
            {
                jobs.Remove(id);
                throw;
            }
            using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = id });
            logger.LogInformation("training queued for profile {Profile}: {Pairs} feedback pairs, generated {Generated}, pack {Pack}",
                spec.ProfileId, spec.FeedbackIds!.Count, spec.IncludeGenerated, spec.Pack);
            return (job, false);
        }
    }

    public async Task<(CancelOutcome Outcome, TrainingJob? Job)> CancelAsync(string id, CancellationToken cancellationToken)
    {
        var job = Find(id);
        if (job is null) return (CancelOutcome.NotFound, null);
        if (job.State.IsFinished()) return (CancelOutcome.AlreadyFinished, job);
        if (queue.RemoveFromQueue(job))
        {
            job.Append(new TrainingCancelledEvent(JobCancelledEvent.RemovedFromQueue));
            return (CancelOutcome.RemovedFromQueue, job);
        }
        return (await JobRegistry<TrainingJob>.CancelRunningAsync(job.Cancellation, job.WaitFinishedAsync, () => job.State, cancellationToken), job);
    }

    public IReadOnlyList<LoraRecord> ListLoras(string profileId) => db.Loras(string.IsNullOrWhiteSpace(profileId) ? null : profileId.Trim());

    public LoraRecord ActivateLora(string loraId)
    {
        string id = SubmissionValidator.NormalizeJobId(loraId, "lora_id");
        var lora = db.Activate(id) ?? throw new HostException(RefusalKind.NotFound, "lora_id", $"no LoRA {id}");
        logger.LogInformation("LoRA {Lora} active for profile {Profile}", id, lora.ProfileId);
        return lora;
    }

    public LoraRecord DeleteLora(string loraId)
    {
        string id = SubmissionValidator.NormalizeJobId(loraId, "lora_id");
        var lora = db.DeleteLora(id) ?? throw new HostException(RefusalKind.NotFound, "lora_id", $"no LoRA {id}");
        // The row goes first: a crash between leaves an orphan file, never a registered LoRA without its file.
        try { File.Delete(lora.Path); } catch (IOException e) { logger.LogWarning("LoRA {Lora}: could not delete {Path}: {Message}", id, lora.Path, e.Message); }
        logger.LogInformation("LoRA {Lora} of profile {Profile} deleted", id, lora.ProfileId);
        return lora;
    }

    /// <summary>LoraWeight.name: a registered LoRA id or a file in the host's LoRA folder, replaced by its path (<see cref="LoraNames"/>).</summary>
    public IReadOnlyList<LoraReference> ResolveLoras(IReadOnlyList<LoraReference> loras) =>
        LoraNames.Resolve(loras, runner.LorasFolder, id => db.Lora(id)?.Path);
}
