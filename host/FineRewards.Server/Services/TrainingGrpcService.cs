using FineRewards.Server.Jobs;
using FineRewards.Contracts;
using FineRewards.Server.Work;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class TrainingGrpcService(ITrainingJobs training, HostOptions options) : Api.TrainingService.TrainingServiceBase
{
    public override async Task<Api.StartTrainingRoundResponse> StartTrainingRound(Api.StartTrainingRoundRequest request, ServerCallContext context)
    {
        var job = await training.StartAsync(request.ToDomain(), context.CancellationToken);
        return new Api.StartTrainingRoundResponse
        {
            TrainingId = job.Id, State = job.State.ToProto(), Existing = job.Existing, LastSequence = job.LastSequence,
        };
    }

    public override async Task WatchTraining(Api.WatchTrainingRequest request, IServerStreamWriter<Api.WatchTrainingResponse> responseStream, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.TrainingId, "training_id");
        if (request.AfterSequence < 0) throw new FineRewards.Contracts.InputException("after_sequence", $"{request.AfterSequence} is negative");
        long last = request.AfterSequence;
        var ct = context.CancellationToken;
        await foreach (var e in training.WatchAsync(id, last, options.Heartbeat, ct))
        {
            if (e is not null) last = e.Sequence;
            await responseStream.WriteAsync(e is not null
                ? new Api.WatchTrainingResponse { Event = e.ToProto() }
                : new Api.WatchTrainingResponse { Heartbeat = new Api.Heartbeat { LastSequence = last, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } }, ct);
        }
    }

    public override async Task<Api.CancelTrainingResponse> CancelTraining(Api.CancelTrainingRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.TrainingId, "training_id");
        var (outcome, state) = await training.CancelAsync(id, context.CancellationToken);
        return new Api.CancelTrainingResponse { Outcome = outcome.ToProto(), State = state?.ToProto() ?? Api.JobState.Unspecified };
    }

    public override async Task<Api.ListLorasResponse> ListLoras(Api.ListLorasRequest request, ServerCallContext context)
    {
        var response = new Api.ListLorasResponse();
        response.Loras.AddRange((await training.ListLorasAsync(request.ProfileId, context.CancellationToken)).Select(l => l.ToProto()));
        return response;
    }

    public override async Task<Api.ActivateLoraResponse> ActivateLora(Api.ActivateLoraRequest request, ServerCallContext context) =>
        new() { Lora = (await training.ActivateLoraAsync(request.LoraId, context.CancellationToken)).ToProto() };

    public override async Task<Api.DeleteLoraResponse> DeleteLora(Api.DeleteLoraRequest request, ServerCallContext context) =>
        new() { Lora = (await training.DeleteLoraAsync(request.LoraId, context.CancellationToken)).ToProto() };
}
