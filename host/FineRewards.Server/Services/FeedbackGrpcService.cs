using FineRewards.Server.Feedback;
using Grpc.Core;
using Api = FineRewards.Protocol.V1;

namespace FineRewards.Server.Services;

public sealed class FeedbackGrpcService(FeedbackStore feedback) : Api.FeedbackService.FeedbackServiceBase
{
    public override Task<Api.SubmitFeedbackResponse> SubmitFeedback(Api.SubmitFeedbackRequest request, ServerCallContext context)
    {
        var (record, existing) = feedback.Submit(new FeedbackSubmission(request.FeedbackId, request.UserId, request.ProfileId,
            request.Kind.ToDomain(), request.Prompt, request.ImageId, request.JobId, request.CandidateIndex));
        return Task.FromResult(new Api.SubmitFeedbackResponse { FeedbackId = record.Id, Existing = existing });
    }

    public override Task<Api.ListFeedbackResponse> ListFeedback(Api.ListFeedbackRequest request, ServerCallContext context)
    {
        var response = new Api.ListFeedbackResponse();
        response.Feedback.AddRange(feedback.List(request.ProfileId).Select(f => f.ToProto()));
        return Task.FromResult(response);
    }
}
