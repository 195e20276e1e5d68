using FineRewards.Server.Jobs;
using FineRewards.Contracts;
using FineRewards.Server.Work;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class GenerationGrpcService(IGenerationJobs jobs, HostOptions options) : Api.GenerationService.GenerationServiceBase
{
    public override async Task<Api.SubmitGenerationResponse> SubmitGeneration(Api.SubmitGenerationRequest request, ServerCallContext context)
    {
        var job = await jobs.SubmitAsync(request.ToDomain(), context.CancellationToken);
        return new Api.SubmitGenerationResponse
        {
            JobId = job.Id, State = job.State.ToProto(), Existing = job.Existing, LastSequence = job.LastSequence,
        };
    }

    public override async Task WatchJob(Api.WatchJobRequest request, IServerStreamWriter<Api.WatchJobResponse> responseStream, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        if (request.AfterSequence < 0) throw new FineRewards.Contracts.InputException("after_sequence", $"{request.AfterSequence} is negative");
        long last = request.AfterSequence;
        var ct = context.CancellationToken;
        await foreach (var e in jobs.WatchAsync(id, last, options.Heartbeat, ct))
        {
            if (e is not null) last = e.Sequence;
            await responseStream.WriteAsync(e is not null
                ? new Api.WatchJobResponse { Event = e.ToProto() }
                : new Api.WatchJobResponse { Heartbeat = new Api.Heartbeat { LastSequence = last, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } }, ct);
        }
    }

    public override async Task<Api.CancelJobResponse> CancelJob(Api.CancelJobRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        var (outcome, state) = await jobs.CancelAsync(id, context.CancellationToken);
        return new Api.CancelJobResponse { Outcome = outcome.ToProto(), State = state?.ToProto() ?? Api.JobState.Unspecified };
    }

    public override async Task<Api.SkipCandidateResponse> SkipCandidate(Api.SkipCandidateRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        var (outcome, sequence, state) = await jobs.SkipAsync(id, request.CandidateIndex, context.CancellationToken);
        return new Api.SkipCandidateResponse { Outcome = outcome.ToProto(), State = state.ToProto(), Sequence = sequence };
    }
}
