using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Cli.Cli;
using FineRewards.Cli.Packs;
using FineRewards.Protocol.V1;
using FineRewards.Server;
using FineRewards.Server.Hosting;
using DeviceInfo = FineRewards.Server.Models.DeviceInfo;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Pack;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace FineRewards.Cli.Tests;

/// <summary>The LoRA check on the shipped Shapes pack, through the host `serve` builds: real trainer, generator and rewards.</summary>
public sealed class HostLoraCheckTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_round_on_the_shipped_pack_ends_with_the_lora_checked_against_the_base_on_profile_and_probe_prompts()
    {
        var locator = PackLocator.Default();
        var found = locator.Find("shapes");
        Assert.True(found.Ready, string.Join("; ", found.Problems));
        using var shapes = new ShapesModelPack(found);
        string data = Directory.CreateTempSubdirectory("finerewards-lora-check-").FullName;
        try
        {
            await using var host = await FineRewardsHost.StartAsync(new HostOptions(data, Port: 0, LogToConsole: false),
                ServeCommand.Models([shapes], DeviceInfo.Cpu()));
            using var channel = GrpcChannel.ForAddress(host.Address);
            var images = new ImageService.ImageServiceClient(channel);
            var feedback = new FeedbackService.FeedbackServiceClient(channel);
            var training = new TrainingService.TrainingServiceClient(channel);

            const string prompt = "a red circle above a blue square";
            var png = PngCodec.Encode(SceneRenderer.Render(SceneSampler.Sample(PromptGrammar.Parse(prompt), 1)));
            using (var put = images.PutImage())
            {
                await put.RequestStream.WriteAsync(new PutImageRequest { Data = Google.Protobuf.ByteString.CopyFrom(png) });
                await put.RequestStream.CompleteAsync();
                string imageId = (await put).ImageId;
                await feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
                {
                    FeedbackId = Guid.NewGuid().ToString(), UserId = "u", ProfileId = "p", Kind = Protocol.V1.FeedbackKind.Accepted, Prompt = prompt, ImageId = imageId,
                });
            }
            var start = new StartTrainingRoundRequest
            {
                TrainingId = Guid.NewGuid().ToString(), ProfileId = "p", Options = new TrainingOptions { StepsPerRound = 5, Seed = 7 },
            };
            start.Options.Rewards.AddRange(["caption", "sam_relation"]);
            await training.StartTrainingRoundAsync(start);

            var events = new List<TrainingEvent>();
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            using var watch = training.WatchTraining(new WatchTrainingRequest { TrainingId = start.TrainingId }, cancellationToken: cts.Token);
            await foreach (var m in watch.ResponseStream.ReadAllAsync(cts.Token))
                if (m.MessageCase == WatchTrainingResponse.MessageOneofCase.Event) events.Add(m.Event);

            Assert.True(events[^1].KindCase == TrainingEvent.KindOneofCase.Completed, events[^1].ToString());
            var check = events[^1].Completed.Evaluation;
            // One prompt of the profile, topped up with seven of the pack's probe prompts; two images per prompt and model.
            Assert.Equal((8, 7, 16), (check.Prompts, check.ProbePrompts, check.Images));
            Assert.Equal(["caption", "sam_relation"], check.Rewards.Select(r => r.Reward));
            Assert.All(check.Rewards, r => Assert.True(double.IsFinite(r.BaseMean) && double.IsFinite(r.NewMean)));
            var expected = check.Rewards.Any(r => r.NewMean < r.BaseMean) ? LoraVerdict.Lowered
                : check.Rewards.Any(r => r.NewMean > r.BaseMean) ? LoraVerdict.Raised : LoraVerdict.Unchanged;
            Assert.Equal(expected, check.Verdict);
            var lora = Assert.Single((await training.ListLorasAsync(new ListLorasRequest { ProfileId = "p" })).Loras);
            Assert.Equal(check, lora.Evaluation);
            Assert.Equal(check.Verdict == LoraVerdict.Raised, lora.Active);

            var evaluate = events.Where(e => e.KindCase == TrainingEvent.KindOneofCase.Progress && e.Progress.Phase == TrainingPhase.Evaluate).ToList();
            Assert.Equal(8, evaluate[^1].Progress.Done);
            var train = events.Where(e => e.KindCase == TrainingEvent.KindOneofCase.Progress && e.Progress.Phase == TrainingPhase.Train).ToList();
            output.WriteLine($"train {Seconds(train[0], train[^1]):0.0} s, check {Seconds(evaluate[0], evaluate[^1]):0.0} s; verdict {check.Verdict}: " +
                string.Join(", ", check.Rewards.Select(r => $"{r.Reward} {r.BaseMean:0.0000} -> {r.NewMean:0.0000}")));
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    static double Seconds(TrainingEvent a, TrainingEvent b) => (b.Time.ToDateTimeOffset() - a.Time.ToDateTimeOffset()).TotalSeconds;
}
