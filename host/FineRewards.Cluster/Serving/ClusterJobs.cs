using FineRewards.Cluster.Storage;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Server;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using HostLora = FineRewards.Server.Storage.LoraRecord;
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
        throw new HostException(RefusalKind.NotSupported, "candidate_index",
            "SkipCandidate is not in the cluster yet (the job runs on another machine's worker); let the job finish, or cancel it (CancelJob)");
}

/// <summary>
/// Training in the cluster: not yet on real packs (the host's training runner keeps its LoRAs in the
/// silo's own database); watch and cancel answer for training jobs the cluster holds.
/// </summary>
public sealed class ClusterTrainingJobs(ClusterHost cluster) : ITrainingJobs
{
    static HostException NotYet(string field, string what) =>
        new(RefusalKind.NotSupported, field, $"{what} is not in the cluster yet (docs/cluster.md, What is not done yet); use a single host (`finerewards serve` without --cluster) for training");

    public Task<JobTicket> StartAsync(TrainingSubmission submission, CancellationToken cancellationToken) => throw NotYet("training_id", "training");

    public Task<JobTicket?> FindAsync(string trainingId, CancellationToken cancellationToken) => ClusterTickets.FindAsync(cluster, trainingId);

    public IAsyncEnumerable<TrainingEvent?> WatchAsync(string trainingId, long afterSequence, TimeSpan heartbeat, CancellationToken cancellationToken) =>
        cluster.FollowTrainingAsync(trainingId, afterSequence, heartbeat, cancellationToken);

    public Task<(CancelOutcome Outcome, JobState? State)> CancelAsync(string trainingId, CancellationToken cancellationToken) =>
        ClusterTickets.CancelAsync(cluster, trainingId);

    public Task<IReadOnlyList<HostLora>> ListLorasAsync(string profileId, CancellationToken cancellationToken) => throw NotYet("profile_id", "the LoRA list");

    public Task<HostLora> ActivateLoraAsync(string loraId, CancellationToken cancellationToken) => throw NotYet("lora_id", "activating a LoRA");

    public Task<HostLora> DeleteLoraAsync(string loraId, CancellationToken cancellationToken) => throw NotYet("lora_id", "deleting a LoRA");
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
