using FineRewards.Server.Jobs;
using FineRewards.Server.Training;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class TrainingGrpcService(TrainingManager training, HostOptions options) : Api.TrainingService.TrainingServiceBase
{
    public override Task<Api.StartTrainingRoundResponse> StartTrainingRound(Api.StartTrainingRoundRequest request, ServerCallContext context)
    {
        var (job, existing) = training.Start(request.ToDomain());
        return Task.FromResult(new Api.StartTrainingRoundResponse
        {
            TrainingId = job.Id, State = job.State.ToProto(), Existing = existing, LastSequence = job.LastSequence,
        });
    }

    public override async Task WatchTraining(Api.WatchTrainingRequest request, IServerStreamWriter<Api.WatchTrainingResponse> responseStream, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.TrainingId, "training_id");
        if (request.AfterSequence < 0) throw new FineRewards.Core.InputException("after_sequence", $"{request.AfterSequence} is negative");
        var job = training.Find(id) ?? throw new HostException(RefusalKind.NotFound, "training_id", $"no training job {id}");
        long last = request.AfterSequence;
        var ct = context.CancellationToken;
        while (true)
        {
            var (events, state, changed) = job.After(last);
            foreach (var e in events)
            {
                await responseStream.WriteAsync(new Api.WatchTrainingResponse { Event = e.ToProto() }, ct);
                last = e.Sequence;
            }
            if (state.IsFinished()) return;
            // The job goes on without this stream: a cancelled wait ends the stream, not the job.
            var tick = Task.Delay(options.Heartbeat, ct);
            if (await Task.WhenAny(changed, tick) == tick)
            {
                ct.ThrowIfCancellationRequested();
                await responseStream.WriteAsync(new Api.WatchTrainingResponse
                {
                    Heartbeat = new Api.Heartbeat { LastSequence = last, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
                }, ct);
            }
        }
    }

    public override async Task<Api.CancelTrainingResponse> CancelTraining(Api.CancelTrainingRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.TrainingId, "training_id");
        var (outcome, job) = await training.CancelAsync(id, context.CancellationToken);
        return new Api.CancelTrainingResponse { Outcome = outcome.ToProto(), State = job?.State.ToProto() ?? Api.JobState.Unspecified };
    }

    public override Task<Api.ListLorasResponse> ListLoras(Api.ListLorasRequest request, ServerCallContext context)
    {
        var response = new Api.ListLorasResponse();
        response.Loras.AddRange(training.ListLoras(request.ProfileId).Select(l => l.ToProto()));
        return Task.FromResult(response);
    }

    public override Task<Api.ActivateLoraResponse> ActivateLora(Api.ActivateLoraRequest request, ServerCallContext context) =>
        Task.FromResult(new Api.ActivateLoraResponse { Lora = training.ActivateLora(request.LoraId).ToProto() });

    public override Task<Api.DeleteLoraResponse> DeleteLora(Api.DeleteLoraRequest request, ServerCallContext context) =>
        Task.FromResult(new Api.DeleteLoraResponse { Lora = training.DeleteLora(request.LoraId).ToProto() });
}
