using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace FineRewards.Server.Hosting;

/// <summary>With a token configured, refuses every call that lacks "authorization: Bearer TOKEN".</summary>
public sealed class AuthInterceptor(HostOptions options) : Interceptor
{
    readonly byte[]? expected = string.IsNullOrEmpty(options.Token) ? null : Encoding.UTF8.GetBytes("Bearer " + options.Token);

    void Check(ServerCallContext context)
    {
        if (expected is null) return;
        string? given = context.RequestHeaders.GetValue("authorization");
        if (given is null)
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this host requires a token: send the metadata \"authorization: Bearer TOKEN\""));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), expected))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "wrong token in the \"authorization\" metadata"));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }
}
