using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

/// <summary>Domain records to and from their protobuf messages; the only place that knows both.</summary>
public static class ProtoMapping
{
    public static Api.JobState ToProto(this JobState state) => state switch
    {
        JobState.Queued => Api.JobState.Queued,
        JobState.Running => Api.JobState.Running,
        JobState.Completed => Api.JobState.Completed,
        JobState.Failed => Api.JobState.Failed,
        JobState.Cancelled => Api.JobState.Cancelled,
        _ => Api.JobState.Unspecified,
    };

    public static GenerationSubmission ToDomain(this Api.SubmitGenerationRequest r) => new(
        r.JobId, r.ClientId, r.Prompt, r.NegativePrompt, r.K,
        r.SeedPolicy switch
        {
            Api.SeedPolicy.Unspecified or Api.SeedPolicy.Fixed => SeedPolicy.Fixed,
            Api.SeedPolicy.Random => SeedPolicy.Random,
            Api.SeedPolicy.Increment => SeedPolicy.Increment,
            _ => throw new FineRewards.Contracts.InputException("seed_policy", $"unknown value {(int)r.SeedPolicy}"),
        },
        r.BaseSeed, r.Sampler, r.Steps, r.Guidance, r.Width, r.Height, r.Pack,
        r.Loras.Select(l => new LoraReference(l.Name, l.Scale)).ToList(),
        r.Rewards.ToList(),
        r.CombineMethod switch
        {
            Api.CombineMethod.Unspecified => null,
            Api.CombineMethod.Arl => FineRewards.Core.Ranking.CombineKind.Arl,
            Api.CombineMethod.Sum => FineRewards.Core.Ranking.CombineKind.Sum,
            Api.CombineMethod.Normalized => FineRewards.Core.Ranking.CombineKind.Normalized,
            Api.CombineMethod.Single => FineRewards.Core.Ranking.CombineKind.Single,
            _ => throw new FineRewards.Contracts.InputException("combine_method", $"unknown value {(int)r.CombineMethod}"),
        },
        r.SingleReward,
        r.RewardWeights.ToDictionary(p => p.Key, p => p.Value),
        r.PreviewPolicy switch
        {
            Api.PreviewPolicy.Unspecified or Api.PreviewPolicy.None => PreviewPolicy.None,
            Api.PreviewPolicy.Thumbnails => PreviewPolicy.Thumbnails,
            _ => throw new FineRewards.Contracts.InputException("preview_policy", $"unknown value {(int)r.PreviewPolicy}"),
        });

    public static Api.JobEvent ToProto(this JobEvent e)
    {
        var pb = new Api.JobEvent { JobId = e.JobId, Sequence = e.Sequence, Time = Timestamp.FromDateTimeOffset(e.Time) };
        switch (e.Data)
        {
            case JobQueuedEvent q: pb.Queued = new Api.JobQueued { Position = q.Position }; break;
            case JobStartedEvent s: pb.Started = new Api.JobStarted { Pack = s.Pack, BaseSeed = s.BaseSeed }; break;
            case StepProgressEvent p:
                pb.Progress = new Api.StepProgress { Step = p.Step, Steps = p.Steps, CandidatesDone = p.CandidatesDone, Candidates = p.Candidates };
                break;
            case CandidateReadyEvent c:
                pb.CandidateReady = new Api.CandidateReady
                {
                    CandidateIndex = c.CandidateIndex, Seed = c.Seed, ImageId = c.ImageId,
                    ThumbnailPng = c.ThumbnailPng is null ? ByteString.Empty : ByteString.CopyFrom(c.ThumbnailPng),
                };
                break;
            case CandidateScoredEvent c:
                pb.CandidateScored = new Api.CandidateScored { CandidateIndex = c.CandidateIndex, Total = c.Total, ImageId = c.ImageId };
                pb.CandidateScored.Rewards.AddRange(c.Rewards.Select(ToProto));
                break;
            case JobRankedEvent r:
                pb.Ranked = new Api.JobRanked { Selected = r.Selected, Method = r.Method };
                pb.Ranked.Order.AddRange(r.Order);
                break;
            case JobCompletedEvent: pb.Completed = new Api.JobCompleted(); break;
            case JobFailedEvent f:
                pb.Failed = new Api.JobFailed
                {
                    Code = f.Code.ToProto(),
                    Message = f.Message,
                    SuggestedFix = f.SuggestedFix,
                };
                break;
            case JobCancelledEvent c: pb.Cancelled = new Api.JobCancelled { Reason = c.Reason }; break;
            case CandidateSkippedEvent c:
                pb.CandidateSkipped = new Api.CandidateSkipped { CandidateIndex = c.CandidateIndex, Seed = c.Seed, Outcome = c.Outcome.ToProto() };
                break;
            default: throw new ArgumentOutOfRangeException(nameof(e), $"no protobuf form for {e.Data.GetType().Name}");
        }
        return pb;
    }

    public static Api.FailureCode ToProto(this FailureCode code) => code switch
    {
        FailureCode.HostRestarted => Api.FailureCode.HostRestarted,
        FailureCode.PackUnavailable => Api.FailureCode.PackUnavailable,
        FailureCode.ModelError => Api.FailureCode.ModelError,
        FailureCode.OutOfMemory => Api.FailureCode.OutOfMemory,
        _ => Api.FailureCode.Unspecified,
    };

    public static Api.SkipOutcome ToProto(this SkipOutcome outcome) => outcome switch
    {
        SkipOutcome.NotGenerated => Api.SkipOutcome.NotGenerated,
        SkipOutcome.ResultDropped => Api.SkipOutcome.ResultDropped,
        SkipOutcome.AlreadySkipped => Api.SkipOutcome.AlreadySkipped,
        _ => Api.SkipOutcome.Unspecified,
    };

    public static Api.CancelOutcome ToProto(this CancelOutcome outcome) => outcome switch
    {
        CancelOutcome.Interrupted => Api.CancelOutcome.Interrupted,
        CancelOutcome.RemovedFromQueue => Api.CancelOutcome.RemovedFromQueue,
        CancelOutcome.AlreadyFinished => Api.CancelOutcome.AlreadyFinished,
        _ => Api.CancelOutcome.NotFound,
    };

    static Api.RewardResult ToProto(RewardOutcome r)
    {
        var pb = new Api.RewardResult { Reward = r.Reward, Score = r.Score, Rank = r.Rank, Caption = r.Caption ?? "" };
        pb.Flags.AddRange(r.Flags);
        pb.Segments.AddRange(r.Segments.Select(s =>
        {
            var mask = new Api.RunLengthMask { Width = s.Segment.Mask.Width, Height = s.Segment.Mask.Height };
            mask.Runs.AddRange(s.Segment.Mask.Runs);
            return new Api.Segment
            {
                Label = s.Segment.Label,
                Confidence = s.Segment.Confidence,
                Verdict = s.Verdict switch
                {
                    Verdict.Certain => Api.Verdict.Certain,
                    Verdict.May => Api.Verdict.May,
                    Verdict.Unlikely => Api.Verdict.Unlikely,
                    _ => Api.Verdict.Unspecified,
                },
                Box = new Api.Box { X = s.Segment.Box.X, Y = s.Segment.Box.Y, Width = s.Segment.Box.Width, Height = s.Segment.Box.Height },
                Mask = mask,
            };
        }));
        return pb;
    }

    public static FeedbackKind? ToDomain(this Api.FeedbackKind kind) => kind switch
    {
        Api.FeedbackKind.Unspecified => null,
        Api.FeedbackKind.Accepted => FeedbackKind.Accepted,
        Api.FeedbackKind.Rejected => FeedbackKind.Rejected,
        Api.FeedbackKind.Edited => FeedbackKind.Edited,
        _ => throw new FineRewards.Contracts.InputException("kind", $"unknown value {(int)kind}; accepted, rejected or edited"),
    };

    public static Api.Feedback ToProto(this FeedbackRecord f) => new()
    {
        FeedbackId = f.Id, UserId = f.UserId, ProfileId = f.ProfileId, Prompt = f.Prompt, ImageId = f.ImageId,
        JobId = f.JobId ?? "", CandidateIndex = f.CandidateIndex ?? 0, Time = Timestamp.FromDateTimeOffset(f.Time),
        Kind = f.Kind switch
        {
            FeedbackKind.Accepted => Api.FeedbackKind.Accepted,
            FeedbackKind.Rejected => Api.FeedbackKind.Rejected,
            _ => Api.FeedbackKind.Edited,
        },
    };
}
