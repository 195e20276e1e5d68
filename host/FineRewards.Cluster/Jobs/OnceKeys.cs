using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Jobs;

/// <summary>
/// Which events a re-run may repeat. A job re-queued after its worker was lost runs again from the
/// start with the same seeds; what the first run already reported (started, a candidate's image and
/// scores, a progress step) is the same again and is dropped, so the stream has no duplicates and
/// what was sent stays valid. Queue positions carry no key: they may be announced again.
/// </summary>
public static class OnceKeys
{
    public const string End = "end";

    public static string Of(JobEventData e) => e switch
    {
        JobStartedEvent => "started",
        StepProgressEvent p => $"progress:{p.CandidatesDone}:{p.Step}",
        CandidateReadyEvent r => $"ready:{r.CandidateIndex}",
        CandidateScoredEvent s => $"scored:{s.CandidateIndex}",
        CandidateSkippedEvent s => $"skipped:{s.CandidateIndex}",
        JobRankedEvent => "ranked",
        JobCompletedEvent or JobFailedEvent or JobCancelledEvent => End,
        _ => "",
    };

    public static string Of(TrainingEventData e) => e switch
    {
        TrainingStartedEvent => "started",
        TrainingPhaseEvent p => $"phase:{p.Round}:{p.Phase}:{p.Done}",
        TrainingLossEvent l => $"loss:{l.Round}:{l.Step}",
        TrainingRoundEvent r => $"round:{r.Round}",
        TrainingCompletedEvent or TrainingFailedEvent or TrainingCancelledEvent => End,
        _ => "",
    };

    public static EventDraft Draft(JobEventData e) => new(e.ToJson(), Of(e), e.NewState, e is StepProgressEvent or JobQueuedEvent);
    public static EventDraft Draft(TrainingEventData e) => new(e.ToJson(), Of(e), e.NewState, e is TrainingLossEvent or TrainingPhaseEvent or TrainingQueuedEvent);
}
