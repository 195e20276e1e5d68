using FineRewards.Cluster.Storage;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Server;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using FineRewards.Cluster.Jobs;
using FineRewards.Server.Feedback;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;
using HostLora = FineRewards.Server.Storage.LoraRecord;
using LoraRecord = FineRewards.Cluster.Storage.LoraRecord;
using FineRewards.Server.Training;
using FineRewards.Server.Work;

namespace FineRewards.Cluster.Serving;

/// <summary>
/// The cluster behind the host's gRPC services (`serve --cluster`): a submit is validated on the silo
/// that received it, against its own pack catalog and limits, exactly as on one machine, then queued
/// in the cluster's scheduler; events, cancel and state come from the job's grain on whichever silo.
/// </summary>
public sealed class ClusterGenerationJobs(ClusterHost cluster, IClusterStore store, ModelCatalog catalog, HostOptions options) : IGenerationJobs
{
    public async Task<JobTicket> SubmitAsync(GenerationSubmission submission, CancellationToken cancellationToken)
    {
        // A LoraWeight names a LoRA of the cluster's registry by its id; the file is checked here, the id travels
        // in the spec, and the worker resolves it again (LoRA affinity compares ids, not a silo's paths).
        var paths = new List<LoraReference>();
        for (int i = 0; i < submission.Loras.Count; i++)
        {
            var lora = submission.Loras[i];
            var record = string.IsNullOrWhiteSpace(lora.Path) ? null : await store.FindLoraAsync(lora.Path.Trim());
            if (record is null && !string.IsNullOrWhiteSpace(lora.Path))
                throw new InputException($"loras[{i}].name", $"no LoRA \"{lora.Path}\" in the cluster's registry (a cluster's LoRAs are named by the training id that made them)");
            paths.Add(lora with { Path = record?.Path ?? lora.Path });
        }
        var (jobId, clientId, spec) = SubmissionValidator.Validate(submission with { Loras = paths }, options.Limits, catalog);
        spec = spec with { Loras = [.. submission.Loras.Select(l => l with { Path = l.Path.Trim() })] };
        var (existing, _) = await cluster.SubmitGenerationAsync(jobId, clientId, spec);
        var (state, last) = await cluster.StateAsync(jobId) ?? (JobState.Queued, 0);
        return new JobTicket(jobId, state, existing, last);
    }

    public Task<JobTicket?> FindAsync(string jobId, CancellationToken cancellationToken) => ClusterTickets.FindAsync(cluster, jobId);

    public IAsyncEnumerable<JobEvent?> WatchAsync(string jobId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken) =>
        cluster.FollowGenerationAsync(jobId, afterSequence, heartbeat, cancellationToken);

    public Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string jobId, CancellationToken cancellationToken) =>
        ClusterTickets.CancelAsync(cluster, jobId);

    public Task<(SkipOutcome Outcome, long Sequence, JobState State)> SkipAsync(string jobId, int candidateIndex, CancellationToken cancellationToken) =>
        cluster.SkipAsync(jobId, candidateIndex);
}

/// <summary>
/// Training in the cluster: a start is checked on the silo that received it (its packs and limits, the profile's
/// feedback in the shared store) and queued in the cluster's scheduler like a generation job; a worker trains and
/// publishes the LoRA to the shared folder and the cluster's registry, which every silo lists, activates and deletes.
/// </summary>
public sealed class ClusterTrainingJobs(ClusterHost cluster, IClusterStore store, ModelCatalog catalog, HostOptions options,
    ILogger<ClusterTrainingJobs> logger) : ITrainingJobs
{
    public async Task<JobTicket> StartAsync(TrainingSubmission submission, CancellationToken cancellationToken)
    {
        var (id, client, spec) = TrainingJobSpec.Validate(submission, options.Limits, catalog);
        spec = spec.WithFeedback(await store.FeedbackOfAsync(spec.ProfileId));
        bool existing = await cluster.SubmitTrainingAsync(id, client, spec);
        var (state, last) = await cluster.StateAsync(id) ?? (JobState.Queued, 0);
        return new JobTicket(id, state, existing, last);
    }

    public Task<JobTicket?> FindAsync(string trainingId, CancellationToken cancellationToken) => ClusterTickets.FindAsync(cluster, trainingId);

    public IAsyncEnumerable<TrainingEvent?> WatchAsync(string trainingId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken) =>
        cluster.FollowTrainingAsync(trainingId, afterSequence, heartbeat, cancellationToken);

    public Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string trainingId, CancellationToken cancellationToken) =>
        ClusterTickets.CancelAsync(cluster, trainingId);

    public async Task<IReadOnlyList<HostLora>> ListLorasAsync(string profileId, CancellationToken cancellationToken) =>
        [.. (await store.ListLorasAsync(string.IsNullOrWhiteSpace(profileId) ? null : profileId.Trim())).Select(ToHost)];

    public async Task<HostLora> ActivateLoraAsync(string loraId, CancellationToken cancellationToken)
    {
        string id = SubmissionValidator.NormalizeJobId(loraId, "lora_id");
        var lora = await store.ActivateLoraAsync(id) ?? throw NoLora(id);
        logger.LogInformation("LoRA {Lora} active for profile {Profile}", id, lora.ProfileId);
        return ToHost(lora);
    }

    public async Task<HostLora> DeleteLoraAsync(string loraId, CancellationToken cancellationToken)
    {
        string id = SubmissionValidator.NormalizeJobId(loraId, "lora_id");
        var lora = await store.DeleteLoraAsync(id) ?? throw NoLora(id);
        // The row goes first: a crash between leaves an orphan file, never a registered LoRA without its file. The file is
        // content-addressed, so another LoRA with the same bytes keeps it.
        if (!(await store.ListLorasAsync(null)).Any(l => l.Sha256 == lora.Sha256))
            try { File.Delete(lora.Path); } catch (IOException e) { logger.LogWarning("LoRA {Lora}: could not delete {Path}: {Message}", id, lora.Path, e.Message); }
        logger.LogInformation("LoRA {Lora} of profile {Profile} deleted", id, lora.ProfileId);
        return ToHost(lora);
    }

    static HostException NoLora(string id) => new(RefusalKind.NotFound, "lora_id", $"no LoRA {id} in the cluster's registry (ListLoras lists them)");

    /// <summary>As one host's registry shows it: the id is the training job's.</summary>
    static HostLora ToHost(LoraRecord l) =>
        new(l.Id, l.ProfileId, l.Id, l.Path, l.Sha256, l.Created, l.Active, l.Metrics ?? new Dictionary<string, double>(), l.Evaluation);
}

/// <summary>
/// Feedback in the cluster's shared store, so a training round on any worker sees every silo's: checked as on one
/// host (the image in the shared folder, the job and candidate it answers among the cluster's jobs).
/// </summary>
public sealed class ClusterFeedback(ClusterHost cluster, IClusterStore store, ImageStore images, HostOptions options, ILogger<ClusterFeedback> logger)
    : IHostFeedback
{
    public async Task<(FeedbackRecord Record, bool Existing)> SubmitAsync(FeedbackSubmission submission, CancellationToken cancellationToken)
    {
        var record = FeedbackStore.Check(submission, images, options.Limits);
        if (record.JobId is { } jobId)
            FeedbackStore.CheckCandidate(jobId, record.CandidateIndex!.Value,
                await cluster.FindAsync(jobId) is { Kind: WorkKind.Generation } job ? GenerationJobSpec.FromJson(job.SpecJson).K : null);
        var (stored, existing) = await store.InsertFeedbackAsync(record);
        return FeedbackStore.Accepted(record, stored, existing, logger);
    }

    public Task<IReadOnlyList<FeedbackRecord>> ListAsync(string profileId, CancellationToken cancellationToken) =>
        store.FeedbackOfAsync(FeedbackStore.ProfileId(profileId));
}

static class ClusterTickets
{
    public static async Task<JobTicket?> FindAsync(ClusterHost cluster, string id) =>
        await cluster.StateAsync(id) is var (state, last) ? new JobTicket(id, state, true, last) : null;

    public static async Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(ClusterHost cluster, string id)
    {
        var outcome = await cluster.CancelAsync(id);
        return (outcome, (await cluster.StateAsync(id))?.State);
    }
}
