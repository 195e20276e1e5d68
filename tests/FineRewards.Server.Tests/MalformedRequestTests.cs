using FineRewards.Protocol.V1;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace FineRewards.Server.Tests;

/// <summary>Bad bytes on the wire, sent through raw calls that bypass the generated clients' serializers.</summary>
public class MalformedRequestTests
{
    static readonly Marshaller<byte[]> Raw = Marshallers.Create(b => b, b => b);

    static readonly ServiceDescriptor[] Services =
        [HostService.Descriptor, GenerationService.Descriptor, ImageService.Descriptor, FeedbackService.Descriptor, TrainingService.Descriptor];

    public static TheoryData<string, string> Methods() => Rows(_ => true);

    public static TheoryData<string, string> MethodsWithStringFields() => Rows(m => StringField(m) is not null);

    static TheoryData<string, string> Rows(Func<MethodDescriptor, bool> keep)
    {
        var data = new TheoryData<string, string>();
        foreach (var m in Services.SelectMany(s => s.Methods).Where(keep)) data.Add(m.Service.FullName, m.Name);
        return data;
    }

    static FieldDescriptor? StringField(MethodDescriptor m) => m.InputType.Fields.InFieldNumberOrder().FirstOrDefault(f => f.FieldType == FieldType.String);

    static MethodDescriptor Find(string service, string method) => Services.Single(s => s.FullName == service).FindMethodByName(method);

    static async Task Call(TestHost host, MethodDescriptor m, byte[] body)
    {
        var type = (m.IsClientStreaming, m.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (false, true) => MethodType.ServerStreaming,
            (true, false) => MethodType.ClientStreaming,
            _ => MethodType.DuplexStreaming,
        };
        var method = new Method<byte[], byte[]>(type, m.Service.FullName, m.Name, Raw, Raw);
        var invoker = host.Channel.CreateCallInvoker();
        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30));
        switch (type)
        {
            case MethodType.Unary:
                await invoker.AsyncUnaryCall(method, null, options, body);
                break;
            case MethodType.ServerStreaming:
                using (var call = invoker.AsyncServerStreamingCall(method, null, options, body))
                    while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
                break;
            case MethodType.ClientStreaming:
                using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                {
                    await call.RequestStream.WriteAsync(body);
                    await call.RequestStream.CompleteAsync();
                    await call.ResponseAsync;
                }
                break;
            default: throw new NotSupportedException(m.FullName);
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task A_truncated_message_is_invalid_argument_on_every_method(string service, string method)
    {
        await using var host = await TestHost.StartAsync();
        // Field 1, length-delimited, says 5 bytes follow; 1 does.
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => Call(host, Find(service, method), [0x0A, 0x05, 0x61]));
        Assert.Equal("request", field);
        Assert.StartsWith($"request: not a valid {Find(service, method).InputType.Name} message: ", message);
        Assert.Contains("ended unexpectedly", message);
    }

    [Theory]
    [MemberData(nameof(MethodsWithStringFields))]
    public async Task A_string_field_that_is_not_utf8_is_invalid_argument_on_every_method(string service, string method)
    {
        var m = Find(service, method);
        var text = StringField(m)!;
        await using var host = await TestHost.StartAsync();
        byte tag = (byte)((text.FieldNumber << 3) | 2);
        var (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, () => Call(host, m, [tag, 0x02, 0xC3, 0x28]));
        Assert.Equal("request", field);
        Assert.EndsWith("message: String is invalid UTF-8.", message);
    }
}
