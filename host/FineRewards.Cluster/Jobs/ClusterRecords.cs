using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Jobs;

public enum WorkKind { Generation, Training }

/// <summary>
/// A job as the cluster stores it: the spec stays the host's own JSON (<see cref="GenerationJobSpec"/>
/// or <see cref="FineRewards.Server.Training.TrainingJobSpec"/>), so grains pass strings and the host's
/// domain types stay free of Orleans attributes.
/// </summary>
/// <param name="LoraKey">The LoRAs the job needs loaded (ids joined by ','); empty when none. Pack affinity compares it.</param>
[GenerateSerializer, Immutable]
public sealed record JobRecord(
    [property: Id(0)] string Id,
    [property: Id(1)] WorkKind Kind,
    [property: Id(2)] string ClientId,
    [property: Id(3)] string SpecJson,
    [property: Id(4)] string SpecHash,
    [property: Id(5)] long BaseSeed,
    [property: Id(6)] string Pack,
    [property: Id(7)] string LoraKey,
    [property: Id(8)] DateTimeOffset Created);

/// <summary>An event before it is numbered.</summary>
/// <param name="OnceKey">Events with the same non-empty key are kept once: a job re-run on another worker after its
/// first worker was lost reports its start, candidates and end again, and those must not reach watchers twice.</param>
/// <param name="MayWait">Only progress (a step, a queue position): the job grain may hold it up to
/// <see cref="JobGrain.BatchWindow"/> and store it together with the events around it. Like every event it is
/// stored before any watcher sees it.</param>
[GenerateSerializer, Immutable]
public sealed record EventDraft(
    [property: Id(0)] string Json,
    [property: Id(1)] string OnceKey,
    [property: Id(2)] JobState? NewState,
    [property: Id(3)] bool MayWait = false);

/// <summary>One numbered event of a job (generation or training event JSON); sequences start at 1 without gaps.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterEvent(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset Time,
    [property: Id(2)] string Json,
    [property: Id(3)] string OnceKey,
    [property: Id(4)] JobState? NewState);

[GenerateSerializer, Immutable]
public sealed record EventPage(
    [property: Id(0)] IReadOnlyList<ClusterEvent> Events,
    [property: Id(1)] JobState State);

/// <summary>What an append did: a worker whose attempt was superseded (it was presumed lost) stops.</summary>
public enum AppendOutcome { Appended, StaleAttempt, JobFinished }

/// <summary>What a skip did (<see cref="Outcome"/> and the sequence of the candidate's skipped event), or why it was refused.</summary>
[GenerateSerializer, Immutable]
public sealed record SkipAnswer(
    [property: Id(0)] SkipOutcome? Outcome,
    [property: Id(1)] long Sequence,
    [property: Id(2)] JobState State,
    [property: Id(3)] RefusalKind? Refusal,
    [property: Id(4)] string Field,
    [property: Id(5)] string Message)
{
    public static SkipAnswer Refused(RefusalKind kind, string field, string message, JobState state) => new(null, 0, state, kind, field, message);
}
