using FineRewards.Server.Jobs;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class GenerationGrpcService(JobManager jobs, FineRewards.Server.Training.TrainingManager training, HostOptions options) : Api.GenerationService.GenerationServiceBase
{
    public override Task<Api.SubmitGenerationResponse> SubmitGeneration(Api.SubmitGenerationRequest request, ServerCallContext context)
    {
        var submission = request.ToDomain();
        // A LoraWeight may name a registered LoRA by its id.
        var (job, existing) = jobs.Submit(submission with { Loras = training.ResolveLoras(submission.Loras) });
        return Task.FromResult(new Api.SubmitGenerationResponse
        {
            JobId = job.Id, State = job.State.ToProto(), Existing = existing, LastSequence = job.LastSequence,
        });
    }

    public override async Task WatchJob(Api.WatchJobRequest request, IServerStreamWriter<Api.WatchJobResponse> responseStream, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        if (request.AfterSequence < 0) throw new FineRewards.Core.InputException("after_sequence", $"{request.AfterSequence} is negative");
        var job = jobs.Find(id) ?? throw new HostException(RefusalKind.NotFound, "job_id", $"no job {id}");
        long last = request.AfterSequence;
        var ct = context.CancellationToken;
        while (true)
        {
            var (events, state, changed) = job.After(last);
            foreach (var e in events)
            {
                await responseStream.WriteAsync(new Api.WatchJobResponse { Event = e.ToProto() }, ct);
                last = e.Sequence;
            }
            if (state.IsFinished()) return; // every event up to the final one is sent
            // The job goes on without this stream: a cancelled wait ends the stream, not the job.
            var tick = Task.Delay(options.Heartbeat, ct);
            if (await Task.WhenAny(changed, tick) == tick)
            {
                ct.ThrowIfCancellationRequested();
                await responseStream.WriteAsync(new Api.WatchJobResponse
                {
                    Heartbeat = new Api.Heartbeat { LastSequence = last, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
                }, ct);
            }
        }
    }

    public override async Task<Api.CancelJobResponse> CancelJob(Api.CancelJobRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        var (outcome, job) = await jobs.CancelAsync(id, context.CancellationToken);
        return new Api.CancelJobResponse { Outcome = outcome.ToProto(), State = job?.State.ToProto() ?? Api.JobState.Unspecified };
    }

    public override Task<Api.SkipCandidateResponse> SkipCandidate(Api.SkipCandidateRequest request, ServerCallContext context)
    {
        string id = SubmissionValidator.NormalizeJobId(request.JobId);
        var (outcome, sequence, job) = jobs.Skip(id, request.CandidateIndex);
        return Task.FromResult(new Api.SkipCandidateResponse { Outcome = outcome.ToProto(), State = job.State.ToProto(), Sequence = sequence });
    }
}
