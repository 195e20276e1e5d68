using FineRewards.Server.Feedback;
using FineRewards.Server.Work;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class FeedbackGrpcService(IHostFeedback feedback) : Api.FeedbackService.FeedbackServiceBase
{
    public override async Task<Api.SubmitFeedbackResponse> SubmitFeedback(Api.SubmitFeedbackRequest request, ServerCallContext context)
    {
        var (record, existing) = await feedback.SubmitAsync(new FeedbackSubmission(request.FeedbackId, request.UserId, request.ProfileId,
            request.Kind.ToDomain(), request.Prompt, request.ImageId, request.JobId, request.CandidateIndex), context.CancellationToken);
        return new Api.SubmitFeedbackResponse { FeedbackId = record.Id, Existing = existing };
    }

    public override async Task<Api.ListFeedbackResponse> ListFeedback(Api.ListFeedbackRequest request, ServerCallContext context)
    {
        var response = new Api.ListFeedbackResponse();
        response.Feedback.AddRange((await feedback.ListAsync(request.ProfileId, context.CancellationToken)).Select(f => f.ToProto()));
        return response;
    }
}
