using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Protocol.V1;
using Grpc.Core;
using LoraGuard = FineRewards.Server.Training.LoraGuard;
using RewardChange = FineRewards.Server.Training.RewardChange;
using DomainVerdict = FineRewards.Server.Training.LoraVerdict;
using FeedbackKind = FineRewards.Protocol.V1.FeedbackKind;
using LoraVerdict = FineRewards.Protocol.V1.LoraVerdict;

namespace FineRewards.Server.Tests;

/// <summary>After a training job the host checks the new LoRA against the base model and makes it active only when it raised the rewards.</summary>
public class LoraGuardTests
{
    static async Task AcceptAsync(TestHost host, string prompt)
    {
        var png = PngCodec.Encode(new FineRewards.Contracts.RgbImage(8, 8, Enumerable.Repeat((byte)120, 8 * 8 * 3).ToArray()));
        string imageId = (await host.PutImageAsync(png)).ImageId;
        await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
        {
            FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = "p1", Kind = FeedbackKind.Accepted, Prompt = prompt, ImageId = imageId,
        });
    }

    static async Task<List<TrainingEvent>> TrainAsync(TestHost host)
    {
        var start = new StartTrainingRoundRequest
        {
            TrainingId = Guid.NewGuid().ToString(), ClientId = "tests", ProfileId = "p1", Options = new TrainingOptions { StepsPerRound = 2, Seed = 5 },
        };
        await host.Training.StartTrainingRoundAsync(start);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = host.Training.WatchTraining(new WatchTrainingRequest { TrainingId = start.TrainingId }, cancellationToken: cts.Token);
        var events = new List<TrainingEvent>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(cts.Token))
            if (m.MessageCase == WatchTrainingResponse.MessageOneofCase.Event) events.Add(m.Event);
        return events;
    }

    static Lora Listed(TestHost host, string id) =>
        host.Training.ListLoras(new ListLorasRequest { ProfileId = "p1" }).Loras.Single(l => l.LoraId == id);

    [Fact]
    public async Task A_lora_that_lowers_the_rewards_is_not_made_active_but_the_user_can_still_choose_it()
    {
        var generator = new LoraShiftGenerator();
        await using var host = await TestHost.StartAsync(generator, trainer: new RecordingTrainer { Writes = "red-90" },
            probes: ["probe one", "probe two", "probe three", "probe four", "probe five", "probe six", "probe seven", "probe eight"]);
        await AcceptAsync(host, "a red square");
        await AcceptAsync(host, "a blue square");
        var events = await TrainAsync(host);

        Assert.Contains(events, e => e.KindCase == TrainingEvent.KindOneofCase.Progress && e.Progress.Phase == TrainingPhase.Evaluate && e.Progress.Done == 8);
        var completed = events[^1].Completed;
        var evaluation = completed.Evaluation;
        Assert.Equal(LoraVerdict.Lowered, evaluation.Verdict);
        Assert.False(evaluation.Activated);
        // Two prompts of the profile, topped up to eight with probes, two images each per model.
        Assert.Equal((8, 6, 16), (evaluation.Prompts, evaluation.ProbePrompts, evaluation.Images));
        Assert.Equal(["brightness", "redness"], evaluation.Rewards.Select(r => r.Reward));
        Assert.All(evaluation.Rewards, r => Assert.True(r.NewMean < r.BaseMean, $"{r.Reward}: {r.BaseMean} -> {r.NewMean}"));
        Assert.Equal(8 * 2, generator.Calls); // feedback only, so every call is the check's: 8 prompts x (base + LoRA), K = 2 each

        var lora = Listed(host, completed.LoraId);
        Assert.False(lora.Active);
        Assert.Equal(evaluation, lora.Evaluation);
        Assert.True((await host.Training.ActivateLoraAsync(new ActivateLoraRequest { LoraId = lora.LoraId })).Lora.Active);
    }

    [Fact]
    public async Task A_lora_that_raises_the_rewards_becomes_the_profiles_only_active_one_and_the_check_survives_a_restart()
    {
        string data = TestHost.NewDataDirectory();
        try
        {
            string worse, better;
            await using (var host = await TestHost.StartAsync(new LoraShiftGenerator(), dataDirectory: data, trainer: new RecordingTrainer { Writes = "red-90" }))
            {
                await AcceptAsync(host, "a red square");
                worse = (await TrainAsync(host))[^1].Completed.LoraId;
                await host.Training.ActivateLoraAsync(new ActivateLoraRequest { LoraId = worse }); // the user chose it anyway
            }
            await using (var host = await TestHost.StartAsync(new LoraShiftGenerator(), dataDirectory: data, trainer: new RecordingTrainer { Writes = "red+90" }))
            {
                var completed = (await TrainAsync(host))[^1].Completed;
                better = completed.LoraId;
                Assert.Equal(LoraVerdict.Raised, completed.Evaluation.Verdict);
                Assert.True(completed.Evaluation.Activated);
                Assert.Equal((1, 0, 2), (completed.Evaluation.Prompts, completed.Evaluation.ProbePrompts, completed.Evaluation.Images)); // no probes in this host
                Assert.All(completed.Evaluation.Rewards, r => Assert.True(r.NewMean > r.BaseMean, $"{r.Reward}: {r.BaseMean} -> {r.NewMean}"));
                Assert.True(Listed(host, better).Active);
                Assert.False(Listed(host, worse).Active);
            }
            await using (var host = await TestHost.StartAsync(new LoraShiftGenerator(), dataDirectory: data))
            {
                Assert.Equal(LoraVerdict.Raised, Listed(host, better).Evaluation.Verdict);
                Assert.Equal(LoraVerdict.Lowered, Listed(host, worse).Evaluation.Verdict);
                Assert.True(Listed(host, better).Active);
            }
        }
        finally
        {
            TestHost.TryDelete(data);
        }
    }

    [Fact]
    public void Any_reward_falling_lowers_the_verdict_and_the_profiles_prompts_come_before_probes()
    {
        Assert.Equal(DomainVerdict.Lowered, LoraGuard.Judge([new RewardChange("a", 0.5, 0.9), new RewardChange("b", 0.5, 0.49)]));
        Assert.Equal(DomainVerdict.Raised, LoraGuard.Judge([new RewardChange("a", 0.5, 0.9), new RewardChange("b", 0.5, 0.5)]));
        Assert.Equal(DomainVerdict.Unchanged, LoraGuard.Judge([new RewardChange("a", 0.5, 0.5)]));

        var (prompts, probes) = LoraGuard.Prompts(["x", "y", "x"], ["y", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
        Assert.Equal(["x", "y", "p1", "p2", "p3", "p4", "p5", "p6"], prompts);
        Assert.Equal(6, probes);
        var many = Enumerable.Range(0, 30).Select(i => $"q{i}").ToList();
        var capped = LoraGuard.Prompts(many, ["p"]);
        Assert.Equal(many.Take(LoraGuard.MaxPrompts), capped.Prompts);
        Assert.Equal(0, capped.Probes);
    }
}
