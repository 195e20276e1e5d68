using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Protocol.V1;
using FineRewards.Server.Hosting;
using FineRewards.Server.Models;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace FineRewards.Server.Tests;

public class AuthTests
{
    [Fact]
    public async Task With_a_token_every_call_needs_it()
    {
        await using var host = await TestHost.StartAsync(token: "s3cret");
        // The right token works (TestHost's clients send it).
        Assert.Equal("1.0", (await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest())).ProtocolVersion);

        using var channel = GrpcChannel.ForAddress(host.Host.Address);
        var bare = new HostService.HostServiceClient(channel);
        var (_, message) = await RpcAssert.Fails(StatusCode.Unauthenticated, async () => await bare.GetCapabilitiesAsync(new GetCapabilitiesRequest()));
        Assert.Contains("authorization: Bearer", message);
        await RpcAssert.Fails(StatusCode.Unauthenticated,
            async () => await bare.GetCapabilitiesAsync(new GetCapabilitiesRequest(), new Metadata { { "authorization", "Bearer wrong" } }));
        await RpcAssert.Fails(StatusCode.Unauthenticated,
            async () => await bare.GetCapabilitiesAsync(new GetCapabilitiesRequest(), new Metadata { { "authorization", "s3cret" } }));

        // Streams and the health service too.
        var jobs = new GenerationService.GenerationServiceClient(channel);
        await RpcAssert.Fails(StatusCode.Unauthenticated, async () =>
        {
            using var call = jobs.WatchJob(new WatchJobRequest { JobId = Guid.NewGuid().ToString() });
            await call.ResponseStream.MoveNext();
        });
        await RpcAssert.Fails(StatusCode.Unauthenticated, async () => await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()));
        await RpcAssert.Fails(StatusCode.Unauthenticated, async () => await new GenerationService.GenerationServiceClient(channel).SubmitGenerationAsync(TestHost.Request()));
    }

    [Fact]
    public async Task Without_a_token_calls_need_no_metadata()
    {
        await using var host = await TestHost.StartAsync();
        using var channel = GrpcChannel.ForAddress(host.Host.Address);
        Assert.Equal("1.0", (await new HostService.HostServiceClient(channel).GetCapabilitiesAsync(new GetCapabilitiesRequest())).ProtocolVersion);
    }

    [Fact]
    public void Binding_beyond_loopback_requires_a_token()
    {
        var e = Assert.Throws<InputException>(() => new HostOptions("/tmp/x", Address: "0.0.0.0").BindAddress());
        Assert.Equal("--address", e.Field);
        Assert.Contains("token", e.Message);
        Assert.Equal(System.Net.IPAddress.Any, new HostOptions("/tmp/x", Address: "0.0.0.0", Token: "t").BindAddress());
        Assert.Equal(System.Net.IPAddress.Loopback, new HostOptions("/tmp/x").BindAddress());
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, new HostOptions("/tmp/x", Address: "::1").BindAddress());
    }

    [Fact]
    public async Task Health_is_serving_only_when_the_default_pack_is_loaded()
    {
        await using (var ready = await TestHost.StartAsync())
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving,
                (await new Health.HealthClient(ready.Channel).CheckAsync(new HealthCheckRequest())).Status);
        await using var missing = await TestHost.StartAsync(defaultPack: "sd15");
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing,
            (await new Health.HealthClient(missing.Channel).CheckAsync(new HealthCheckRequest())).Status);
    }

    /// <summary>The test pack whose generator takes until <paramref name="loaded"/> is set to load.</summary>
    sealed class SlowPack(ManualResetEventSlim loaded) : FineRewards.Core.Packs.IModelPack
    {
        readonly TestPack inner = new(TestHost.Pack, new SolidColourGenerator());
        public string Name => inner.Name;
        public FineRewards.Core.Packs.PackStatus Check() => inner.Check();
        public FineRewards.Core.Packs.PackCapabilities Capabilities => inner.Capabilities;
        public FineRewards.Core.Training.GenerationSettings DefaultGeneration => inner.DefaultGeneration;
        public IReadOnlyList<string> ProbePrompts => [];
        public FineRewards.Contracts.IImageGenerator? Generator
        {
            get
            {
                loaded.Wait();
                return inner.Generator;
            }
        }
        public FineRewards.Contracts.ILoraTrainer? Trainer => null;
        public FineRewards.Core.Training.IGroundTruth? GroundTruth => null;
        public FineRewards.Contracts.IReward CreateReward(string name) => inner.CreateReward(name);
        public void ValidatePrompt(string prompt, string field) { }
        public void Dispose() { }
    }

    [Fact]
    public async Task A_pack_still_loading_is_not_serving_without_an_error_in_the_log()
    {
        string dir = TestHost.NewDataDirectory();
        using var loaded = new ManualResetEventSlim(false);
        try
        {
            var models = TestHost.Models(new SolidColourGenerator()) with { Packs = [new SlowPack(loaded)] };
            await using (var host = await FineRewardsHost.StartAsync(new HostOptions(dir, Port: 0, LogToConsole: false), models))
            {
                using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(host.Address);
                var health = new Health.HealthClient(channel);
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
                // The health publisher's first round runs 5 s after start: let it find the pack loading.
                await Task.Delay(TimeSpan.FromSeconds(7));
                loaded.Set();
                for (int i = 0; i < 100 && (await health.CheckAsync(new HealthCheckRequest())).Status != HealthCheckResponse.Types.ServingStatus.Serving; i++)
                    await Task.Delay(50);
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
            }
            string log = File.ReadAllText(Path.Combine(dir, "logs", "host.log"));
            Assert.DoesNotContain(" ERROR ", log);
            Assert.Contains("pack solid loaded", log);
        }
        finally { loaded.Set(); TestHost.TryDelete(dir); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Reflection_is_served_only_when_configured(bool enabled)
    {
        await using var host = await TestHost.StartAsync(reflection: enabled);
        var client = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(host.Channel);
        using var call = client.ServerReflectionInfo();
        if (!enabled)
        {
            await RpcAssert.Fails(StatusCode.Unimplemented, async () =>
            {
                await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
                await call.ResponseStream.MoveNext();
            });
            return;
        }
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        Assert.True(await call.ResponseStream.MoveNext());
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("finerewards.v1.GenerationService", services);
        Assert.Contains("finerewards.v1.ImageService", services);
        await call.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Log_lines_carry_the_job_id()
    {
        string jobId;
        string dir;
        await using (var host = await TestHost.StartAsync())
        {
            var request = TestHost.Request(k: 1);
            jobId = request.JobId;
            dir = host.DataDirectory;
            await host.Jobs.SubmitGenerationAsync(request);
            await host.WatchToEndAsync(jobId);
            await Task.Delay(100);
            string log = await File.ReadAllTextAsync(Path.Combine(dir, "logs", "host.log"));
            var lines = log.Split('\n').Where(l => l.Contains($"job={jobId}")).ToList();
            Assert.Contains(lines, l => l.Contains("queued at position 0"));
            Assert.Contains(lines, l => l.Contains("started on pack solid"));
            Assert.Contains(lines, l => l.Contains("completed in"));
        }
    }
}
