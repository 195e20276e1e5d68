using System.Text.Json;
using System.Text.Json.Serialization;
using FineRewards.Core.Training;
using FineRewards.Server.Jobs;

namespace FineRewards.Server.Training;

/// <summary>What happened to a training job. Stored as JSON, one row per event; "type" names the kind.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(TrainingQueuedEvent), "queued")]
[JsonDerivedType(typeof(TrainingStartedEvent), "started")]
[JsonDerivedType(typeof(TrainingPhaseEvent), "progress")]
[JsonDerivedType(typeof(TrainingLossEvent), "loss")]
[JsonDerivedType(typeof(TrainingRoundEvent), "round_finished")]
[JsonDerivedType(typeof(TrainingCompletedEvent), "completed")]
[JsonDerivedType(typeof(TrainingFailedEvent), "failed")]
[JsonDerivedType(typeof(TrainingCancelledEvent), "cancelled")]
public abstract record TrainingEventData
{
    [JsonIgnore] public virtual JobState? NewState => null;
    public string ToJson() => JsonSerializer.Serialize(this);
    public static TrainingEventData FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingEventData>(json) ?? throw new InvalidDataException("training event JSON is null");
}

public sealed record TrainingQueuedEvent(int Position) : TrainingEventData
{
    public override JobState? NewState => JobState.Queued;
}

/// <param name="ImagePreparation">What was done to the feedback images to bring them to the training size (<see cref="TrainingImages.Describe"/>).</param>
public sealed record TrainingStartedEvent(string Pack, int FeedbackPairs, int Prompts, int Rounds, string ImagePreparation = "") : TrainingEventData
{
    public override JobState? NewState => JobState.Running;
}

/// <param name="EtaSeconds">Negative when not known yet.</param>
public sealed record TrainingPhaseEvent(int Round, RunPhase Phase, int Done, int Total, double EtaSeconds) : TrainingEventData;

public sealed record TrainingLossEvent(int Round, int Step, int Steps, double Loss) : TrainingEventData;

public sealed record TrainingRoundEvent(int Round, int Kept, int Prompts, int TrainingPairs, int TrainingSteps, double? FinalLoss,
    IReadOnlyDictionary<string, double> RewardMean, IReadOnlyDictionary<string, double> SelectedMean) : TrainingEventData;

/// <param name="Evaluation">The LoRA against the base model (null in events stored before hosts made the check).</param>
public sealed record TrainingCompletedEvent(string LoraId, string Path, string Sha256, LoraEvaluation? Evaluation = null) : TrainingEventData
{
    public override JobState? NewState => JobState.Completed;
}

public sealed record TrainingFailedEvent(FailureCode Code, string Message, string SuggestedFix) : TrainingEventData
{
    public override JobState? NewState => JobState.Failed;
}

public sealed record TrainingCancelledEvent(string Reason) : TrainingEventData
{
    public override JobState? NewState => JobState.Cancelled;
}

public sealed record TrainingEvent(string TrainingId, long Sequence, DateTimeOffset Time, TrainingEventData Data);
