using FineRewards.Core.Ranking;
using FineRewards.Contracts;
using FineRewards.Core.Training;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using Google.Protobuf.WellKnownTypes;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

/// <summary>Training records to and from their protobuf messages.</summary>
public static class TrainingProtoMapping
{
    public static TrainingSubmission ToDomain(this Api.StartTrainingRoundRequest r)
    {
        var o = r.Options ?? new Api.TrainingOptions();
        CombineKind? combine = o.CombineMethod switch
        {
            Api.CombineMethod.Unspecified => null,
            Api.CombineMethod.Arl => CombineKind.Arl,
            Api.CombineMethod.Sum => CombineKind.Sum,
            Api.CombineMethod.Normalized => CombineKind.Normalized,
            Api.CombineMethod.Single => CombineKind.Single,
            _ => throw new FineRewards.Contracts.InputException("options.combine_method", $"unknown value {(int)o.CombineMethod}"),
        };
        return new TrainingSubmission(r.TrainingId, r.ClientId, r.ProfileId, o.Pack, o.Rounds, o.K, o.Rewards.ToList(), combine, o.SingleReward,
            o.StepsPerRound, o.StepsPerImage, o.LearningRate, o.LoraRank, o.IncludeGenerated, o.Prompts.ToList(), o.FilterTop, o.Seed,
            o.HasPromptDropout ? o.PromptDropout : null, o.LrSchedule, o.Objective, o.DpoBeta);
    }

    public static Api.TrainingEvent ToProto(this TrainingEvent e)
    {
        var pb = new Api.TrainingEvent { TrainingId = e.TrainingId, Sequence = e.Sequence, Time = Timestamp.FromDateTimeOffset(e.Time) };
        switch (e.Data)
        {
            case TrainingQueuedEvent q: pb.Queued = new Api.TrainingQueued { Position = q.Position }; break;
            case TrainingStartedEvent s:
                pb.Started = new Api.TrainingStarted { Pack = s.Pack, FeedbackPairs = s.FeedbackPairs, Prompts = s.Prompts, Rounds = s.Rounds, ImagePreparation = s.ImagePreparation };
                break;
            case TrainingPhaseEvent p:
                pb.Progress = new Api.TrainingPhaseProgress { Round = p.Round, Phase = p.Phase.ToProto(), Done = p.Done, Total = p.Total, EtaSeconds = p.EtaSeconds };
                break;
            case TrainingLossEvent l: pb.Loss = new Api.TrainingLoss { Round = l.Round, Step = l.Step, Steps = l.Steps, Loss = l.Loss }; break;
            case TrainingRoundEvent r:
                pb.RoundFinished = new Api.TrainingRoundFinished
                {
                    Round = r.Round, Kept = r.Kept, Prompts = r.Prompts, TrainingPairs = r.TrainingPairs, TrainingSteps = r.TrainingSteps,
                    FinalLoss = r.FinalLoss ?? double.NaN,
                };
                pb.RoundFinished.RewardMean.Add(r.RewardMean.ToDictionary());
                pb.RoundFinished.SelectedMean.Add(r.SelectedMean.ToDictionary());
                break;
            case TrainingCompletedEvent c:
                pb.Completed = new Api.TrainingCompleted { LoraId = c.LoraId, Path = c.Path, Sha256 = c.Sha256, Evaluation = c.Evaluation?.ToProto() };
                break;
            case TrainingFailedEvent f: pb.Failed = new Api.JobFailed { Code = f.Code.ToProto(), Message = f.Message, SuggestedFix = f.SuggestedFix }; break;
            case TrainingCancelledEvent c: pb.Cancelled = new Api.JobCancelled { Reason = c.Reason }; break;
            default: throw new ArgumentOutOfRangeException(nameof(e), $"no protobuf form for {e.Data.GetType().Name}");
        }
        return pb;
    }

    public static Api.TrainingPhase ToProto(this RunPhase phase) => phase switch
    {
        RunPhase.Generate => Api.TrainingPhase.Generate,
        RunPhase.Score => Api.TrainingPhase.Score,
        RunPhase.Select => Api.TrainingPhase.Select,
        RunPhase.Train => Api.TrainingPhase.Train,
        RunPhase.Preview => Api.TrainingPhase.Preview,
        RunPhase.Evaluate => Api.TrainingPhase.Evaluate,
        _ => Api.TrainingPhase.Unspecified,
    };

    public static Api.Lora ToProto(this LoraRecord l)
    {
        var pb = new Api.Lora
        {
            LoraId = l.Id, ProfileId = l.ProfileId, TrainingId = l.TrainingId, Path = l.Path, Sha256 = l.Sha256,
            CreateTime = Timestamp.FromDateTimeOffset(l.Created), Active = l.Active,
        };
        pb.Metrics.Add(l.Metrics.ToDictionary());
        pb.Evaluation = l.Evaluation?.ToProto();
        return pb;
    }

    public static Api.LoraEvaluation ToProto(this LoraEvaluation e)
    {
        var pb = new Api.LoraEvaluation
        {
            Verdict = e.Verdict switch
            {
                LoraVerdict.Raised => Api.LoraVerdict.Raised,
                LoraVerdict.Unchanged => Api.LoraVerdict.Unchanged,
                LoraVerdict.Lowered => Api.LoraVerdict.Lowered,
                _ => Api.LoraVerdict.Unspecified,
            },
            Prompts = e.Prompts, ProbePrompts = e.ProbePrompts, Images = e.Images, Activated = e.Activated,
        };
        pb.Rewards.AddRange(e.Rewards.Select(r => new Api.RewardChange { Reward = r.Reward, BaseMean = r.BaseMean, NewMean = r.NewMean }));
        return pb;
    }
}
