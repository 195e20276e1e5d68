using FineRewards.Contracts;
using SeedPolicy = FineRewards.Protocol.V1.SeedPolicy;
using PackState = FineRewards.Protocol.V1.PackState;
using DeviceInfo = FineRewards.Server.Models.DeviceInfo;
using FineRewards.Core.Packs;
using FineRewards.Server.Hosting;
using HostLimits = FineRewards.Server.Jobs.HostLimits;
using FineRewards.Server.Models;
using FineRewards.Protocol.V1;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace FineRewards.Server.Tests;

/// <summary>A real host on 127.0.0.1 (dynamic port, HTTP/2 cleartext) over a temporary data directory, with clients.</summary>
public sealed class TestHost : IAsyncDisposable
{
    public const string Pack = "solid";

    public FineRewardsHost Host { get; }
    public GrpcChannel Channel { get; }
    public string DataDirectory { get; }
    public HostService.HostServiceClient HostClient { get; }
    public GenerationService.GenerationServiceClient Jobs { get; }
    public ImageService.ImageServiceClient Images { get; }
    public FeedbackService.FeedbackServiceClient Feedback { get; }
    public TrainingService.TrainingServiceClient Training { get; }
    readonly bool ownsDirectory;

    TestHost(FineRewardsHost host, string dataDirectory, bool ownsDirectory, string? clientToken)
    {
        Host = host;
        DataDirectory = dataDirectory;
        this.ownsDirectory = ownsDirectory;
        Channel = GrpcChannel.ForAddress(host.Address);
        var invoker = clientToken is null ? Channel.CreateCallInvoker()
            : Channel.CreateCallInvoker().Intercept(m => { m.Add("authorization", $"Bearer {clientToken}"); return m; });
        HostClient = new HostService.HostServiceClient(invoker);
        Jobs = new GenerationService.GenerationServiceClient(invoker);
        Images = new ImageService.ImageServiceClient(invoker);
        Feedback = new FeedbackService.FeedbackServiceClient(invoker);
        Training = new TrainingService.TrainingServiceClient(invoker);
    }

    public static string NewDataDirectory() => Directory.CreateTempSubdirectory("finerewards-host-test-").FullName;

    public static HostModels Models(IImageGenerator generator, string defaultPack = Pack, ILoraTrainer? trainer = null, IReadOnlyList<IReward>? rewards = null,
        IReadOnlyList<string>? probes = null, PackCapabilities? capabilities = null, Action<string, string>? checkPrompt = null) => new(
        [new TestPack(Pack, generator, rewards, trainer, probes, capabilities, checkPrompt), new MissingPack("sd15", new PackLocator([Path.Combine(Path.GetTempPath(), "finerewards-no-packs")]))],
        [],
        DeviceInfo.Cpu(),
        defaultPack);

    public static async Task<TestHost> StartAsync(
        IImageGenerator? generator = null, string? dataDirectory = null, HostLimits? limits = null, string? token = null,
        string? clientToken = null, TimeSpan? heartbeat = null, string defaultPack = Pack, int workers = 1, bool reflection = false,
        ILoraTrainer? trainer = null, IReadOnlyList<IReward>? rewards = null, IReadOnlyList<string>? probes = null, PackCapabilities? capabilities = null,
        Action<string, string>? checkPrompt = null)
    {
        bool owns = dataDirectory is null;
        string dir = dataDirectory ?? NewDataDirectory();
        var options = new HostOptions(dir, Port: 0, Token: token, LimitsOverride: limits, HeartbeatOverride: heartbeat, LogToConsole: false, Workers: workers, Reflection: reflection);
        var host = await FineRewardsHost.StartAsync(options, Models(generator ?? new SolidColourGenerator(), defaultPack, trainer, rewards, probes, capabilities, checkPrompt));
        var test = new TestHost(host, dir, owns, clientToken ?? token);
        await test.WaitForPackAsync();
        return test;
    }

    async Task WaitForPackAsync()
    {
        for (int i = 0; i < 200; i++)
        {
            var caps = await HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());
            if (caps.Packs.Single(p => p.Name == Pack).State != PackState.Loading) return;
            await Task.Delay(10);
        }
        throw new TimeoutException("test pack did not load");
    }

    public static SubmitGenerationRequest Request(string? jobId = null, int k = 4, long seed = 1, string prompt = "a red square", int steps = 5) => new()
    {
        JobId = jobId ?? Guid.NewGuid().ToString(),
        ClientId = "tests",
        Prompt = prompt,
        K = k,
        SeedPolicy = SeedPolicy.Fixed,
        BaseSeed = seed,
        Steps = steps,
        Width = 16,
        Height = 16,
    };

    /// <summary>Every event of the job from after_sequence to its end (heartbeats dropped).</summary>
    public async Task<List<JobEvent>> WatchToEndAsync(string jobId, long after = 0, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        using var call = Jobs.WatchJob(new WatchJobRequest { JobId = jobId, AfterSequence = after }, cancellationToken: cts.Token);
        var events = new List<JobEvent>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(cts.Token))
            if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event) events.Add(m.Event);
        return events;
    }

    /// <summary>Reads events until one matches, then drops the stream (a client going away).</summary>
    public async Task<List<JobEvent>> WatchUntilAsync(string jobId, Func<JobEvent, bool> stop, long after = 0)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = Jobs.WatchJob(new WatchJobRequest { JobId = jobId, AfterSequence = after }, cancellationToken: cts.Token);
        var events = new List<JobEvent>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(cts.Token))
        {
            if (m.MessageCase != WatchJobResponse.MessageOneofCase.Event) continue;
            events.Add(m.Event);
            if (stop(m.Event)) break;
        }
        return events;
    }

    public async Task<byte[]> GetImageAsync(string imageId)
    {
        using var call = Images.GetImage(new GetImageRequest { ImageId = imageId });
        var bytes = new MemoryStream();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync()) chunk.Data.WriteTo(bytes);
        return bytes.ToArray();
    }

    public async Task<PutImageResponse> PutImageAsync(byte[] png, string expected = "", int chunk = 64 * 1024)
    {
        using var call = Images.PutImage();
        var upload = Upload();
        // A host that refuses mid-upload answers at once but stops reading, so a write can wait for flow control
        // forever (seen once in CI): its status, in the response, is the result, and disposing the call ends the write.
        if (await Task.WhenAny(upload, call.ResponseAsync) != upload) return await call.ResponseAsync;
        try { await upload; }
        catch (RpcException)
        {
            // As an editor must: when the host refuses mid-upload, a write fails with a bare Cancelled
            // and the host's status (e.g. RESOURCE_EXHAUSTED) comes with the response.
            await call.ResponseAsync;
            throw;
        }
        return await call;

        async Task Upload()
        {
            for (int at = 0; at < png.Length; at += chunk)
                await call.RequestStream.WriteAsync(new PutImageRequest
                {
                    ExpectedImageId = at == 0 ? expected : "",
                    Data = Google.Protobuf.ByteString.CopyFrom(png, at, Math.Min(chunk, png.Length - at)),
                });
            await call.RequestStream.CompleteAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Host.DisposeAsync();
        if (ownsDirectory) TryDelete(DataDirectory);
    }

    public static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public static class RpcAssert
{
    /// <summary>The call fails with <paramref name="code"/>; returns the field trailer ("" when absent).</summary>
    public static async Task<(string Field, string Message)> Fails(StatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(e.StatusCode == code, $"expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        return (e.Trailers.GetValue(ErrorInterceptor.FieldTrailer) ?? "", e.Status.Detail);
    }
}
