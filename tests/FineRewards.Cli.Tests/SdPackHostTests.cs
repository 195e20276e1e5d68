using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Cli.Cli;
using FineRewards.Cli.Packs;
using FineRewards.Protocol.V1;
using FineRewards.Server;
using FineRewards.Server.Hosting;
using Grpc.Core;
using Grpc.Net.Client;
using DeviceInfo = FineRewards.Server.Models.DeviceInfo;

namespace FineRewards.Cli.Tests;

/// <summary>
/// The host end to end on a Stable Diffusion pack: a random-weight single file with the full CLIP vocabulary and the
/// tiny ONNX CLIP and SAM graphs, opened by the registry as `serve --pack` opens it, served over gRPC.
/// </summary>
public sealed class SdPackHostTests(FullVocabularySingleFile model) : IClassFixture<FullVocabularySingleFile>
{
    static string Onnx => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-rewards");

    /// <summary>pack.json as `pack create sd --checkpoint FILE --clip DIR --sam DIR` writes it, plus two settings: a 32-pixel
    /// native size (the tiny UNet's sample_size, which the tensors do not fix) and SAM's filters opened for random weights.</summary>
    string WritePack(string name, bool withSam = true)
    {
        string pack = Path.Combine(model.Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        OnnxPackScoreTests.CopyClipFixture(Path.Combine(pack, "clip"));
        var components = new JsonObject
        {
            ["diffusion"] = new JsonObject
            {
                ["kind"] = SdPack.SingleFileKind, ["path"] = model.Checkpoint,
                ["config"] = new JsonObject { ["prediction_type"] = "epsilon", ["unet"] = new JsonObject { ["sample_size"] = 4 } },
            },
            ["clip"] = new JsonObject { ["kind"] = OnnxPack.ClipKind, ["path"] = "clip" },
            ["sam"] = new JsonObject
            {
                ["kind"] = OnnxPack.SamKind, ["path"] = withSam ? Path.Combine(Onnx, "sam") : Path.Combine(pack, "no-such-sam"),
                ["config"] = new JsonObject { ["points_per_side"] = 2, ["pred_iou_thresh"] = -1e9, ["stability_score_thresh"] = 0.0 },
            },
        };
        var manifest = new JsonObject { ["name"] = name, ["version"] = "1", ["files"] = new JsonArray(), ["components"] = components };
        File.WriteAllText(Path.Combine(pack, PackManifest.FileName), manifest.ToJsonString());
        return pack;
    }

    static async Task<PackInfo> WaitForPackAsync(HostService.HostServiceClient client, string pack)
    {
        for (int i = 0; i < 1200; i++)
        {
            var info = (await client.GetCapabilitiesAsync(new GetCapabilitiesRequest())).Packs.Single(p => p.Name == pack);
            if (info.State != PackState.Loading) return info;
            await Task.Delay(100);
        }
        throw new TimeoutException($"pack {pack} did not load in 2 minutes");
    }

    [Fact]
    public void The_default_size_is_read_from_the_headers_and_equals_the_loaded_pipelines()
    {
        string folder = WritePack("tiny-sd-size");
        int side = SdPack.NativeSide(folder);   // no weights loaded
        using var pipeline = SdPack.LoadPipeline(folder, FineRewards.Diffusion.Pipelines.PipelineOptions.Default);
        Assert.Equal((pipeline.Unet.Config.SampleSize ?? 64) * pipeline.SizeMultiple, side);
        Assert.Equal(4 * pipeline.SizeMultiple, side);   // the pack's config override, not the tensors' guess
    }

    [Fact]
    public async Task Serve_pack_runs_a_best_of_k_job_with_the_packs_rewards_and_trains_a_lora_for_it()
    {
        string folder = WritePack("tiny-sd");
        var packs = ServeCommand.Packs(BuiltInPacks.Registry(), [folder]);
        Assert.Equal(["shapes", "tiny-sd"], packs.Select(p => p.Name));
        string data = Directory.CreateTempSubdirectory("finerewards-sd-host-").FullName;
        try
        {
            // Only the SD pack: the shapes pack beside it would load its own models and only slow the test down.
            packs[0].Dispose();
            await using var host = await FineRewardsHost.StartAsync(new HostOptions(data, Port: 0, LogToConsole: false),
                ServeCommand.Models([packs[1]], DeviceInfo.Cpu()));
            using var channel = GrpcChannel.ForAddress(host.Address);
            var hostClient = new HostService.HostServiceClient(channel);
            var jobs = new GenerationService.GenerationServiceClient(channel);
            var feedback = new FeedbackService.FeedbackServiceClient(channel);
            var training = new TrainingService.TrainingServiceClient(channel);

            var info = await WaitForPackAsync(hostClient, "tiny-sd");
            Assert.True(info.State == PackState.Ready, string.Join("; ", info.Problems));
            Assert.Equal(Path.GetFullPath(folder), info.Folder);
            Assert.Equal(["clip", "sam", "random"], info.Rewards);
            Assert.Equal(["clip", "sam"], info.DefaultRewards);
            Assert.Contains("euler_a", info.Samplers);

            // A reward the pack has not: refused at submit, naming the pack and what it has.
            var wrong = Request("tiny-sd");
            wrong.Rewards.Add("caption");
            var refused = await Assert.ThrowsAsync<RpcException>(() => jobs.SubmitGenerationAsync(wrong).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            Assert.Contains("unknown reward \"caption\"; pack \"tiny-sd\" can be scored with: clip, sam, random", refused.Status.Detail);

            var request = Request("tiny-sd");
            await jobs.SubmitGenerationAsync(request);
            var events = new List<JobEvent>();
            using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            using (var watch = jobs.WatchJob(new WatchJobRequest { JobId = request.JobId }, cancellationToken: cts.Token))
                await foreach (var m in watch.ResponseStream.ReadAllAsync(cts.Token))
                    if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event) events.Add(m.Event);
            Assert.True(events[^1].KindCase == JobEvent.KindOneofCase.Completed, events[^1].ToString());
            var scored = events.Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateScored).Select(e => e.CandidateScored).ToList();
            Assert.Equal(2, scored.Count);
            // Without rewards in the request, the pack's default set ranks: CLIP's cosine and SAM's judged segments.
            Assert.All(scored, s => Assert.Equal(["clip", "sam"], s.Rewards.Select(r => r.Reward)));
            Assert.All(scored, s => Assert.All(s.Rewards, r => Assert.True(double.IsFinite(r.Score), $"{r.Reward} {r.Score}")));
            Assert.Contains(scored, s => s.Rewards.Single(r => r.Reward == "sam").Segments.Count > 0);

            // The kept candidate, accepted, is what a training round on the pack learns.
            string imageId = events.First(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).CandidateReady.ImageId;
            await feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
            {
                FeedbackId = Guid.NewGuid().ToString(), UserId = "u", ProfileId = "p", Kind = FeedbackKind.Accepted, Prompt = request.Prompt, ImageId = imageId,
            });
            var start = new StartTrainingRoundRequest
            {
                TrainingId = Guid.NewGuid().ToString(), ProfileId = "p", Options = new TrainingOptions { Pack = "tiny-sd", StepsPerRound = 2, Seed = 3 },
            };
            start.Options.Rewards.Add("clip");
            await training.StartTrainingRoundAsync(start);
            var trainingEvents = new List<TrainingEvent>();
            using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            using (var watch = training.WatchTraining(new WatchTrainingRequest { TrainingId = start.TrainingId }, cancellationToken: cts.Token))
                await foreach (var m in watch.ResponseStream.ReadAllAsync(cts.Token))
                    if (m.MessageCase == WatchTrainingResponse.MessageOneofCase.Event) trainingEvents.Add(m.Event);
            Assert.True(trainingEvents[^1].KindCase == TrainingEvent.KindOneofCase.Completed, trainingEvents[^1].ToString());
            var completed = trainingEvents[^1].Completed;
            Assert.True(new FileInfo(completed.Path).Length > 0);
            Assert.Equal(["clip"], completed.Evaluation.Rewards.Select(r => r.Reward));

            // The LoRA it made works on the pack's generator: a job with it completes.
            var withLora = Request("tiny-sd");
            withLora.Loras.Add(new LoraWeight { Name = completed.LoraId, Scale = 1 });
            await jobs.SubmitGenerationAsync(withLora);
            using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            using (var watch = jobs.WatchJob(new WatchJobRequest { JobId = withLora.JobId }, cancellationToken: cts.Token))
            {
                JobEvent? last = null;
                await foreach (var m in watch.ResponseStream.ReadAllAsync(cts.Token))
                    if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event) last = m.Event;
                Assert.True(last?.KindCase == JobEvent.KindOneofCase.Completed, last?.ToString());
            }
        }
        finally
        {
            foreach (var p in packs) p.Dispose();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_pack_with_a_missing_reward_model_is_listed_with_the_path_looked_at_and_a_fix()
    {
        string folder = WritePack("half-sd", withSam: false);
        using var pack = BuiltInPacks.Registry().Resolve(folder);
        string data = Directory.CreateTempSubdirectory("finerewards-sd-host-").FullName;
        try
        {
            await using var host = await FineRewardsHost.StartAsync(new HostOptions(data, Port: 0, LogToConsole: false),
                ServeCommand.Models([pack], DeviceInfo.Cpu()));
            using var channel = GrpcChannel.ForAddress(host.Address);
            var info = await WaitForPackAsync(new HostService.HostServiceClient(channel), "half-sd");
            Assert.Equal(PackState.Missing, info.State);
            Assert.Contains(info.Problems, p => p.StartsWith("sam (onnx-sam): missing") && p.Contains(Path.Combine(folder, "no-such-sam")));
            Assert.Contains("pack create sd", info.Fix);
            Assert.Contains(Path.Combine(folder, PackManifest.FileName), info.Fix);
            // Its rewards are still listed (what it would offer), and a job on it is refused as a precondition.
            Assert.Equal(["clip", "sam", "random"], info.Rewards);
            var refused = await Assert.ThrowsAsync<RpcException>(() =>
                new GenerationService.GenerationServiceClient(channel).SubmitGenerationAsync(Request("half-sd")).ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void Serve_pack_refuses_a_folder_without_pack_json_and_a_second_pack_of_one_name()
    {
        string empty = Directory.CreateDirectory(Path.Combine(model.Root, "empty-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var e = Assert.Throws<InputException>(() => ServeCommand.Packs(BuiltInPacks.Registry(), [empty]));
        Assert.Equal("--pack", e.Field);
        Assert.Contains($"{empty} holds no pack.json", e.Message);

        string first = WritePack("twin"), second = WritePack("twin");
        e = Assert.Throws<InputException>(() => ServeCommand.Packs(BuiltInPacks.Registry(), [first, second]));
        Assert.Contains("a pack named \"twin\" is already served", e.Message);
    }

    static SubmitGenerationRequest Request(string pack) => new()
    {
        JobId = Guid.NewGuid().ToString(), ClientId = "test", Prompt = "a red circle", K = 2, BaseSeed = 5, Steps = 2, Width = 32, Height = 32, Pack = pack,
    };
}
