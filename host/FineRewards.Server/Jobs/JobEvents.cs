using System.Text.Json;
using System.Text.Json.Serialization;
using FineRewards.Contracts;

namespace FineRewards.Server.Jobs;

public enum JobState { Queued, Running, Completed, Failed, Cancelled }

public static class JobStates
{
    public static bool IsFinished(this JobState state) => state is JobState.Completed or JobState.Failed or JobState.Cancelled;
}

public enum FailureCode { HostRestarted, PackUnavailable, ModelError, OutOfMemory }

/// <summary>What happened to a job. Stored as JSON, one row per event; "type" names the kind.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(JobQueuedEvent), "queued")]
[JsonDerivedType(typeof(JobStartedEvent), "started")]
[JsonDerivedType(typeof(StepProgressEvent), "progress")]
[JsonDerivedType(typeof(CandidateReadyEvent), "candidate_ready")]
[JsonDerivedType(typeof(CandidateScoredEvent), "candidate_scored")]
[JsonDerivedType(typeof(JobRankedEvent), "ranked")]
[JsonDerivedType(typeof(JobCompletedEvent), "completed")]
[JsonDerivedType(typeof(JobFailedEvent), "failed")]
[JsonDerivedType(typeof(JobCancelledEvent), "cancelled")]
[JsonDerivedType(typeof(CandidateSkippedEvent), "candidate_skipped")]
public abstract record JobEventData
{
    /// <summary>The state the job is in after this event, or null when the event does not change it.</summary>
    [JsonIgnore] public virtual JobState? NewState => null;

    public string ToJson() => JsonSerializer.Serialize(this);
    public static JobEventData FromJson(string json) =>
        JsonSerializer.Deserialize<JobEventData>(json) ?? throw new InvalidDataException("job event JSON is null");
}

/// <param name="Position">Jobs ahead of this one; 0 runs next.</param>
public sealed record JobQueuedEvent(int Position) : JobEventData
{
    public override JobState? NewState => JobState.Queued;
}

public sealed record JobStartedEvent(string Pack, long BaseSeed) : JobEventData
{
    public override JobState? NewState => JobState.Running;
}

public sealed record StepProgressEvent(int Step, int Steps, int CandidatesDone, int Candidates) : JobEventData;

public sealed record CandidateReadyEvent(int CandidateIndex, long Seed, string ImageId, byte[]? ThumbnailPng) : JobEventData;

public enum SkipOutcome { NotGenerated, ResultDropped, AlreadySkipped }

/// <summary>A client left a candidate out (SkipCandidate): it gets no later ready or scored event and no place in the ranking.</summary>
/// <param name="Outcome">NotGenerated (its generation had not started) or ResultDropped.</param>
public sealed record CandidateSkippedEvent(int CandidateIndex, long Seed, SkipOutcome Outcome) : JobEventData;

/// <param name="Rank">1 is best among the job's candidates; ties share the mean rank.</param>
public sealed record RewardOutcome(string Reward, double Score, double Rank, string? Caption,
    IReadOnlyList<JudgedSegment> Segments, IReadOnlyList<string> Flags);

/// <param name="ImageId">The PNG with the parameters and this breakdown.</param>
public sealed record CandidateScoredEvent(int CandidateIndex, IReadOnlyList<RewardOutcome> Rewards, double Total, string ImageId) : JobEventData;

/// <param name="Order">Candidate indices, best first.</param>
public sealed record JobRankedEvent(IReadOnlyList<int> Order, int Selected, string Method) : JobEventData;

public sealed record JobCompletedEvent : JobEventData
{
    public override JobState? NewState => JobState.Completed;
}

public sealed record JobFailedEvent(FailureCode Code, string Message, string SuggestedFix) : JobEventData
{
    public override JobState? NewState => JobState.Failed;
}

public sealed record JobCancelledEvent(string Reason) : JobEventData
{
    public const string Interrupted = "interrupted while running";
    public const string RemovedFromQueue = "removed from the queue";
    public override JobState? NewState => JobState.Cancelled;
}

/// <summary>One numbered event: sequence numbers of a job start at 1 and have no gaps.</summary>
public sealed record JobEvent(string JobId, long Sequence, DateTimeOffset Time, JobEventData Data);
