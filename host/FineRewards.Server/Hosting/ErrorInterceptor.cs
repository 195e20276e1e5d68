using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace FineRewards.Server.Hosting;

/// <summary>
/// Turns the domain's refusals into gRPC statuses: invalid fields are INVALID_ARGUMENT, limits
/// RESOURCE_EXHAUSTED, and so on. The message starts with the field ("k: 40 candidates exceeds
/// ..."), and the trailer "finerewards-field" carries the field alone for clients to highlight it.
/// </summary>
public sealed class ErrorInterceptor : Interceptor
{
    public const string FieldTrailer = "finerewards-field";

    static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try { return await call(); }
        catch (InputException e) { throw Map(StatusCode.InvalidArgument, e.Field, e.Message); }
        catch (HostException e) { throw Map(Code(e.Kind), e.Field, e.Message); }
    }

    static async Task Guard(Func<Task> call) => await Guard(async () => { await call(); return 0; });

    static StatusCode Code(RefusalKind kind) => kind switch
    {
        RefusalKind.NotFound => StatusCode.NotFound,
        RefusalKind.AlreadyExists => StatusCode.AlreadyExists,
        RefusalKind.ResourceExhausted => StatusCode.ResourceExhausted,
        RefusalKind.NotSupported => StatusCode.Unimplemented,
        _ => StatusCode.FailedPrecondition,
    };

    static RpcException Map(StatusCode code, string field, string message) =>
        new(new Status(code, message), new Metadata { { FieldTrailer, field } });

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        Guard(() => continuation(request, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        Guard(() => continuation(request, responseStream, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        Guard(() => continuation(requestStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        Guard(() => continuation(requestStream, responseStream, context));
}
