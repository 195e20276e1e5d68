using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Model = Grpc.AspNetCore.Server.Model;

namespace FineRewards.Server.Hosting;

/// <summary>
/// Binds every gRPC service as grpc-dotnet's own binder does (through the generated BindService), but
/// with request deserializers that answer a malformed message (a truncated body, a string field that
/// is not UTF-8) with INVALID_ARGUMENT naming the problem. grpc-dotnet reads the request before any
/// interceptor runs and turns such an exception into UNKNOWN "Exception was thrown by handler.", so
/// the check has to sit in the marshaller. Registered in place of the default provider (see
/// <see cref="FineRewardsHost"/>), so it covers every method, health and reflection included.
/// </summary>
public sealed class CheckedRequestMethodProvider<TService> : IServiceMethodProvider<TService> where TService : class
{
    public const string Field = "request";

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = BindAttribute(typeof(TService));
        if (bind is null) return;
        var method = bind.BindType.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == bind.BindMethodName && m.GetParameters() is [var binder, _] && binder.ParameterType == typeof(ServiceBinderBase));
        method.Invoke(null, [new Binder(context), null]);
    }

    static BindServiceMethodAttribute? BindAttribute(Type? type)
    {
        for (; type is not null; type = type.BaseType)
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } a) return a;
        return null;
    }

    sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(Checked(method), Metadata(method.Name), Invoker<Model.UnaryServerMethod<TService, TRequest, TResponse>>(method.Name));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(Checked(method), Metadata(method.Name), Invoker<Model.ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(Checked(method), Metadata(method.Name), Invoker<Model.ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(Checked(method), Metadata(method.Name), Invoker<Model.DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name));

        // The service's method (its override, or the generated base's UNIMPLEMENTED one) as an open-instance delegate.
        static TDelegate Invoker<TDelegate>(string name) where TDelegate : Delegate =>
            (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), ServiceMethod(name));

        static MethodInfo ServiceMethod(string name) =>
            typeof(TService).GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => m.Name == name && m.IsVirtual)
                .OrderBy(m => m.DeclaringType == typeof(TService) ? 0 : 1).First();

        // As grpc-dotnet's binder: the service's and the method's attributes (authorization and the like).
        static List<object> Metadata(string name) =>
            [.. typeof(TService).GetCustomAttributes(inherit: true), .. ServiceMethod(name).GetCustomAttributes(inherit: true)];
    }

    static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method)
    {
        var deserialize = method.RequestMarshaller.ContextualDeserializer;
        string type = typeof(TRequest).Name;
        var marshaller = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, c =>
        {
            try { return deserialize(c); }
            // Its message names the problem: "String is invalid UTF-8.", "...the input ended unexpectedly...".
            catch (InvalidProtocolBufferException e) { throw Malformed($"not a valid {type} message: {e.Message}"); }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    static RpcException Malformed(string problem) =>
        new(new Status(StatusCode.InvalidArgument, $"{Field}: {problem}"), new Metadata { { ErrorInterceptor.FieldTrailer, Field } });
}
