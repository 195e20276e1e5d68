using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Protocol.V1;
using Grpc.Core;
using FeedbackKind = FineRewards.Protocol.V1.FeedbackKind;

namespace FineRewards.Server.Tests;

public class TrainingTests
{
    static async Task AcceptAsync(TestHost host, string profile, string prompt, byte shade, int width = 8, int height = 8)
    {
        var png = PngCodec.Encode(new RgbImage(width, height, Enumerable.Repeat(shade, width * height * 3).ToArray()));
        string imageId = (await host.PutImageAsync(png)).ImageId;
        await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
        {
            FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = profile, Kind = FeedbackKind.Accepted, Prompt = prompt, ImageId = imageId,
        });
    }

    static StartTrainingRoundRequest Start(string profile = "p1", int steps = 3, bool generated = false, params string[] prompts)
    {
        var r = new StartTrainingRoundRequest
        {
            TrainingId = Guid.NewGuid().ToString(), ClientId = "tests", ProfileId = profile,
            Options = new TrainingOptions { StepsPerRound = steps, IncludeGenerated = generated, Rounds = generated ? 2 : 0, K = 2, Seed = 3 },
        };
        r.Options.Prompts.AddRange(prompts);
        return r;
    }

    internal static async Task<List<TrainingEvent>> WatchAsync(TestHost host, string id, long after = 0, Func<TrainingEvent, bool>? stop = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = host.Training.WatchTraining(new WatchTrainingRequest { TrainingId = id, AfterSequence = after }, cancellationToken: cts.Token);
        var events = new List<TrainingEvent>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(cts.Token))
        {
            if (m.MessageCase != WatchTrainingResponse.MessageOneofCase.Event) continue;
            events.Add(m.Event);
            if (stop?.Invoke(m.Event) == true) break;
        }
        return events;
    }

    [Fact]
    public async Task Accepted_images_of_any_size_train_at_the_pack_size_and_the_started_event_says_how()
    {
        var trainer = new RecordingTrainer();
        await using var host = await TestHost.StartAsync(trainer: trainer);
        await AcceptAsync(host, "p1", "a red square", 200, 1000, 1000);
        await AcceptAsync(host, "p1", "a blue square", 30, 1000, 600);
        await AcceptAsync(host, "p1", "a green square", 90, 64, 64);

        var start = Start(steps: 2);
        await host.Training.StartTrainingRoundAsync(start);
        var events = await WatchAsync(host, start.TrainingId);
        Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);

        // The test host's pack has no size of its own: the host's default generation size, 64.
        Assert.Equal([(64, 64), (64, 64), (64, 64)], Assert.Single(trainer.Sizes));
        Assert.Equal("64x64: 1 centre-cropped to a square and resized, 1 resized, 1 kept",
            events.Single(e => e.KindCase == TrainingEvent.KindOneofCase.Started).Started.ImagePreparation);
        // A feedback-only job is one round, and says so.
        var round = events.Single(e => e.KindCase == TrainingEvent.KindOneofCase.RoundFinished).RoundFinished;
        Assert.Equal((1, 3, 2, 0.5), (round.Round, round.TrainingPairs, round.TrainingSteps, round.FinalLoss));
    }

    [Fact]
    public async Task Training_on_accepted_feedback_streams_numbered_events_and_registers_the_lora()
    {
        var trainer = new RecordingTrainer();
        await using var host = await TestHost.StartAsync(trainer: trainer);
        await AcceptAsync(host, "p1", "a red square", 200);
        await AcceptAsync(host, "p1", "a blue square", 30);
        await AcceptAsync(host, "p2", "someone else's", 90);

        var start = Start(steps: 4);
        var response = await host.Training.StartTrainingRoundAsync(start);
        Assert.False(response.Existing);
        var events = await WatchAsync(host, start.TrainingId);

        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(TrainingEvent.KindOneofCase.Queued, events[0].KindCase);
        Assert.Equal(2, events.Single(e => e.KindCase == TrainingEvent.KindOneofCase.Started).Started.FeedbackPairs);
        Assert.Contains(events, e => e.KindCase == TrainingEvent.KindOneofCase.Progress && e.Progress.Phase == TrainingPhase.Train && e.Progress.Done == 4);
        Assert.Equal(0.25, events.Last(e => e.KindCase == TrainingEvent.KindOneofCase.Loss).Loss.Loss);
        var completed = events[^1].Completed;
        Assert.Equal(start.TrainingId, completed.LoraId);

        var call = Assert.Single(trainer.Calls);
        Assert.Equal(["a red square", "a blue square"], call.Prompts.Order(StringComparer.Ordinal).Reverse());
        Assert.Equal(4, call.Options.Steps);
        var lora = Assert.Single((await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "p1" })).Loras);
        Assert.True(File.Exists(lora.Path));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(lora.Path))), lora.Sha256);
        Assert.False(lora.Active);
        Assert.Equal(2, lora.Metrics["pairs"]);
        Assert.Empty((await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "p2" })).Loras);

        // A registered LoRA id works as a LoraWeight name in generation.
        var gen = TestHost.Request(k: 1);
        gen.Loras.Add(new LoraWeight { Name = lora.LoraId, Scale = 1 });
        await host.Jobs.SubmitGenerationAsync(gen);
        Assert.Equal(JobEvent.KindOneofCase.Completed, (await host.WatchToEndAsync(gen.JobId))[^1].KindCase);
    }

    [Fact]
    public async Task Training_with_generated_best_of_k_runs_rounds_and_reports_each()
    {
        var trainer = new RecordingTrainer();
        var generator = new SolidColourGenerator();
        await using var host = await TestHost.StartAsync(generator, trainer: trainer);
        await AcceptAsync(host, "p1", "a red square", 200);
        var start = Start(steps: 2, generated: true, prompts: ["a red square", "a green square"]);
        await host.Training.StartTrainingRoundAsync(start);
        var events = await WatchAsync(host, start.TrainingId);

        Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);
        var rounds = events.Where(e => e.KindCase == TrainingEvent.KindOneofCase.RoundFinished).Select(e => e.RoundFinished).ToList();
        Assert.Equal([1, 2], rounds.Select(r => r.Round));
        Assert.Equal([3, 5], rounds.Select(r => r.TrainingPairs)); // 2 selected per round, cumulative, plus 1 feedback pair
        Assert.Contains("redness", rounds[0].RewardMean.Keys);
        Assert.Contains(events, e => e.KindCase == TrainingEvent.KindOneofCase.Progress && e.Progress.Phase == TrainingPhase.Generate);
        Assert.Equal(4 + 4, generator.Calls); // 2 prompts x 2 rounds, then the LoRA check: base and LoRA for each of 2 prompts
        Assert.Equal([3, 5], trainer.Calls.Select(c => c.Prompts.Count));
    }

    [Fact]
    public async Task Watch_resumes_after_a_disconnect_without_loss_or_duplicates()
    {
        await using var host = await TestHost.StartAsync(trainer: new RecordingTrainer());
        await AcceptAsync(host, "p1", "a red square", 200);
        var start = Start(steps: 30);
        await host.Training.StartTrainingRoundAsync(start);
        var first = await WatchAsync(host, start.TrainingId, stop: e => e.KindCase == TrainingEvent.KindOneofCase.Started);
        var rest = await WatchAsync(host, start.TrainingId, after: first[^1].Sequence);
        var all = await WatchAsync(host, start.TrainingId);
        Assert.Equal(all.Select(e => e.Sequence), first.Concat(rest).Select(e => e.Sequence));
        Assert.Equal(TrainingEvent.KindOneofCase.Completed, all[^1].KindCase);
    }

    /// <summary>dpo learns each accepted candidate against the candidates the user rejected from the same job.</summary>
    [Fact]
    public async Task Dpo_trains_each_accepted_candidate_against_those_rejected_from_its_job()
    {
        var trainer = new RecordingTrainer();
        await using var host = await TestHost.StartAsync(trainer: trainer);
        await AcceptAsync(host, "p1", "an upload without a job", 90);
        var start = Start(steps: 2);
        start.Options.Objective = "dpo";
        // Nothing rejected yet: nothing to prefer, and the refusal says what to send.
        var (field, message) = await RpcAssert.Fails(StatusCode.FailedPrecondition, async () => await host.Training.StartTrainingRoundAsync(start));
        Assert.Equal("profile_id", field);
        Assert.Contains("FEEDBACK_KIND_REJECTED", message);

        var job = TestHost.Request(k: 3);
        await host.Jobs.SubmitGenerationAsync(job);
        var ready = (await host.WatchToEndAsync(job.JobId)).Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady)
            .OrderBy(c => c.CandidateIndex).ToList();
        foreach (var (c, kind) in ready.Zip(new[] { FeedbackKind.Accepted, FeedbackKind.Rejected, FeedbackKind.Rejected }))
            await host.Feedback.SubmitFeedbackAsync(new SubmitFeedbackRequest
            {
                FeedbackId = Guid.NewGuid().ToString(), UserId = "u1", ProfileId = "p1", Kind = kind, Prompt = job.Prompt, ImageId = c.ImageId,
                JobId = job.JobId, CandidateIndex = c.CandidateIndex,
            });

        await host.Training.StartTrainingRoundAsync(start);
        var events = await WatchAsync(host, start.TrainingId);
        Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(2, events.Single(e => e.KindCase == TrainingEvent.KindOneofCase.Started).Started.FeedbackPairs);
        var call = Assert.Single(trainer.Calls);
        Assert.Equal(("dpo", 2000.0), (call.Options.Objective, call.Options.DpoBeta));
        Assert.Equal([job.Prompt, job.Prompt], call.Prompts);  // the upload from no job has nothing to be preferred to
        // The rejected images are the two rejected candidates, each once.
        var candidates = new List<byte[]>();
        foreach (var c in ready)
            candidates.Add(Training.TrainingImages.Prepare(PngCodec.Decode(await host.GetImageAsync(c.ImageId), c.ImageId).Image, 64).Image.Pixels);
        var rejected = trainer.Rejected.Single().Select(r => r!.Image.Pixels).ToList();
        Assert.Equal(2, rejected.Count);
        Assert.Contains(rejected, r => r.SequenceEqual(candidates[1]));
        Assert.Contains(rejected, r => r.SequenceEqual(candidates[2]));
        Assert.DoesNotContain(rejected, r => r.SequenceEqual(candidates[0]));

        var badBeta = Start();
        badBeta.Options.DpoBeta = 5;
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Training.StartTrainingRoundAsync(badBeta));
        Assert.Equal("options.dpo_beta", field);
        var badObjective = Start();
        badObjective.Options.Objective = "ppo";
        (field, message) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Training.StartTrainingRoundAsync(badObjective));
        Assert.Equal("options.objective", field);
        Assert.Contains("raft, dpo", message);
    }

    [Fact]
    public async Task Start_is_idempotent_by_id_and_refuses_a_clash_or_nothing_to_train_on()
    {
        var trainer = new RecordingTrainer();
        await using var host = await TestHost.StartAsync(trainer: trainer);
        var (field, message) = await RpcAssert.Fails(StatusCode.FailedPrecondition, async () => await host.Training.StartTrainingRoundAsync(Start()));
        Assert.Equal("profile_id", field);
        Assert.Contains("SubmitFeedback", message);

        await AcceptAsync(host, "p1", "a red square", 200);
        var start = Start();
        await host.Training.StartTrainingRoundAsync(start);
        var again = await host.Training.StartTrainingRoundAsync(start);
        Assert.True(again.Existing);
        await WatchAsync(host, start.TrainingId);
        Assert.Single(trainer.Calls);

        var clash = new StartTrainingRoundRequest(start) { Options = new TrainingOptions(start.Options) { StepsPerRound = 9 } };
        (field, _) = await RpcAssert.Fails(StatusCode.AlreadyExists, async () => await host.Training.StartTrainingRoundAsync(clash));
        Assert.Equal("training_id", field);
        var badK = Start();
        badK.Options.K = 1000;
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Training.StartTrainingRoundAsync(badK));
        Assert.Equal("options.k", field);
        var both = Start();
        both.Options.StepsPerImage = 3;
        (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Training.StartTrainingRoundAsync(both));
        Assert.Equal("options.steps_per_round", field);
    }

    [Fact]
    public async Task Cancelling_a_running_training_job_interrupts_it_and_registers_nothing()
    {
        using var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(trainer: new RecordingTrainer { Gate = gate });
        await AcceptAsync(host, "p1", "a red square", 200);
        var start = Start(steps: 5);
        await host.Training.StartTrainingRoundAsync(start);
        await WatchAsync(host, start.TrainingId, stop: e => e.KindCase == TrainingEvent.KindOneofCase.Loss);
        var cancel = await host.Training.CancelTrainingAsync(new CancelTrainingRequest { TrainingId = start.TrainingId });
        Assert.Equal((CancelOutcome.Interrupted, JobState.Cancelled), (cancel.Outcome, cancel.State));
        var events = await WatchAsync(host, start.TrainingId);
        Assert.Equal(TrainingEvent.KindOneofCase.Cancelled, events[^1].KindCase);
        Assert.Empty((await host.Training.ListLorasAsync(new ListLorasRequest())).Loras);
        Assert.Equal(CancelOutcome.AlreadyFinished, (await host.Training.CancelTrainingAsync(new CancelTrainingRequest { TrainingId = start.TrainingId })).Outcome);
        Assert.Equal(CancelOutcome.NotFound, (await host.Training.CancelTrainingAsync(new CancelTrainingRequest { TrainingId = Guid.NewGuid().ToString() })).Outcome);
    }

    [Fact]
    public async Task Training_waits_in_the_generation_queue_and_never_runs_beside_a_generation_job()
    {
        using var gate = new ManualResetEventSlim(false);
        var trainer = new RecordingTrainer();
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, trainer: trainer);
        await AcceptAsync(host, "p1", "a red square", 200);
        var gen = TestHost.Request(k: 1);
        await host.Jobs.SubmitGenerationAsync(gen);
        await host.WatchUntilAsync(gen.JobId, e => e.KindCase == JobEvent.KindOneofCase.Progress);

        var queued = Start();
        await host.Training.StartTrainingRoundAsync(queued);
        var waiting = Start();
        waiting.ClientId = "another-client";
        await host.Training.StartTrainingRoundAsync(waiting);
        var events = await WatchAsync(host, queued.TrainingId, stop: e => e.KindCase == TrainingEvent.KindOneofCase.Queued);
        Assert.Equal(0, events[0].Queued.Position);
        await Task.Delay(300);
        Assert.Empty(trainer.Calls); // the device is busy with the generation job

        var removed = await host.Training.CancelTrainingAsync(new CancelTrainingRequest { TrainingId = queued.TrainingId });
        Assert.Equal(CancelOutcome.RemovedFromQueue, removed.Outcome);
        // The job behind it moved up.
        var moved = await WatchAsync(host, waiting.TrainingId, stop: e => e.KindCase == TrainingEvent.KindOneofCase.Queued && e.Queued.Position == 0);
        Assert.Equal([1, 0], moved.Select(e => e.Queued.Position));

        gate.Set();
        Assert.Equal(JobEvent.KindOneofCase.Completed, (await host.WatchToEndAsync(gen.JobId))[^1].KindCase);
        Assert.Equal(TrainingEvent.KindOneofCase.Completed, (await WatchAsync(host, waiting.TrainingId))[^1].KindCase);
        Assert.Single(trainer.Calls);
    }

    [Fact]
    public async Task Loras_are_listed_activated_one_per_profile_deleted_and_survive_a_restart()
    {
        string data = TestHost.NewDataDirectory();
        try
        {
            string a, b;
            await using (var host = await TestHost.StartAsync(dataDirectory: data, trainer: new RecordingTrainer()))
            {
                await AcceptAsync(host, "p1", "a red square", 200);
                var first = Start();
                await host.Training.StartTrainingRoundAsync(first);
                await WatchAsync(host, first.TrainingId);
                var second = Start(steps: 2);
                await host.Training.StartTrainingRoundAsync(second);
                await WatchAsync(host, second.TrainingId);
                (a, b) = (first.TrainingId, second.TrainingId);

                Assert.True((await host.Training.ActivateLoraAsync(new ActivateLoraRequest { LoraId = a })).Lora.Active);
                await host.Training.ActivateLoraAsync(new ActivateLoraRequest { LoraId = b });
                var list = (await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "p1" })).Loras;
                Assert.Equal(2, list.Count);
                Assert.Equal(b, list.Single(l => l.Active).LoraId);
            }
            await using (var host = await TestHost.StartAsync(dataDirectory: data, trainer: new RecordingTrainer()))
            {
                var list = (await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "p1" })).Loras;
                Assert.Equal(new[] { a, b }.Order(), list.Select(l => l.LoraId).Order());
                Assert.Equal(b, list.Single(l => l.Active).LoraId);
                // The finished job's events survive too.
                var events = await WatchAsync(host, a);
                Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);

                string path = list.Single(l => l.LoraId == b).Path;
                var deleted = await host.Training.DeleteLoraAsync(new DeleteLoraRequest { LoraId = b });
                Assert.True(deleted.Lora.Active);
                Assert.False(File.Exists(path));
                Assert.Equal([a], (await host.Training.ListLorasAsync(new ListLorasRequest())).Loras.Select(l => l.LoraId));
                var (field, _) = await RpcAssert.Fails(StatusCode.NotFound, async () => await host.Training.DeleteLoraAsync(new DeleteLoraRequest { LoraId = b }));
                Assert.Equal("lora_id", field);
                (field, _) = await RpcAssert.Fails(StatusCode.InvalidArgument, async () => await host.Training.ActivateLoraAsync(new ActivateLoraRequest { LoraId = "x" }));
                Assert.Equal("lora_id", field);
            }
        }
        finally
        {
            TestHost.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_pack_without_a_trainer_fails_the_job_with_a_suggested_fix()
    {
        await using var host = await TestHost.StartAsync();
        await AcceptAsync(host, "p1", "a red square", 200);
        var start = Start();
        await host.Training.StartTrainingRoundAsync(start);
        var events = await WatchAsync(host, start.TrainingId);
        var failed = events[^1].Failed;
        Assert.Equal(FailureCode.PackUnavailable, failed.Code);
        Assert.Contains("no LoRA trainer", failed.Message);
        Assert.NotEmpty(failed.SuggestedFix);
    }

    [Fact]
    public async Task A_training_job_interrupted_by_a_restart_resumes_from_its_last_finished_step()
    {
        string data = TestHost.NewDataDirectory();
        try
        {
            using var never = new ManualResetEventSlim(false);
            var start = Start(steps: 2, generated: true, prompts: ["a red square", "a green square"]);
            var firstGenerator = new SolidColourGenerator();
            await using (var host = await TestHost.StartAsync(firstGenerator, dataDirectory: data, trainer: new RecordingTrainer { Gate = never, GateCall = 1 }))
            {
                await AcceptAsync(host, "p1", "a red square", 200);
                await host.Training.StartTrainingRoundAsync(start);
                // Round 1 finishes; round 2 generates, scores, selects, and hangs in training until the host stops.
                await WatchAsync(host, start.TrainingId, stop: e => e.KindCase == TrainingEvent.KindOneofCase.Loss && e.Loss.Round == 2);
                Assert.Equal(4, firstGenerator.Calls);
            }
            var generator = new SolidColourGenerator();
            var trainer = new RecordingTrainer();
            await using (var host = await TestHost.StartAsync(generator, dataDirectory: data, trainer: trainer))
            {
                var events = await WatchAsync(host, start.TrainingId);
                Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
                Assert.Equal(2, events.Count(e => e.KindCase == TrainingEvent.KindOneofCase.Started));
                Assert.Equal(TrainingEvent.KindOneofCase.Completed, events[^1].KindCase);
                Assert.Equal(4, generator.Calls);                       // round 2's candidates were already on disk: only the LoRA check generated
                Assert.Equal([5], trainer.Calls.Select(c => c.Prompts.Count)); // only round 2's training ran again
                Assert.Single((await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "p1" })).Loras);
            }
        }
        finally
        {
            TestHost.TryDelete(data);
        }
    }
}
