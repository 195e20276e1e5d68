using System.Net;
using System.Net.Sockets;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Panels;
using Grpc.Core;
using FineRewards.Plugin.Ui;
using FineRewards.Protocol.V1;
using FineRewards.Server;
using FineRewards.Server.Tests;
using ConnectionState = FineRewards.Plugin.Client.ConnectionState;
using Verdict = FineRewards.Contracts.Verdict;

namespace FineRewards.Plugin.Tests;

/// <summary>
/// The plugin against a real in-process host (TestHost) serving the Shapes test models: synthetic
/// input events in, frames and host-side effects out.
/// </summary>
public class HostInteractionTests
{
    static Task<TestHost> StartHost(ShapesSceneTestGenerator? generator = null, string? dataDirectory = null, ILoraTrainer? trainer = null) =>
        TestHost.StartAsync(generator ?? new ShapesSceneTestGenerator(), dataDirectory: dataDirectory,
            rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward()], trainer: trainer);

    static async Task<PluginHarness> ReadyHarness(TestHost host, FakeEditorHost? editor = null)
    {
        var client = new HostClient(host.Host.Address.ToString().TrimEnd('/'), clientId: "plugin-test");
        var h = new PluginHarness(client, editor);
        await h.FramesUntilAsync(() => client.Snapshot.Connection.State == ConnectionState.Ready, "the host to be ready");
        return h;
    }

    [Fact]
    public async Task Type_a_prompt_generate_hover_a_segment_and_accept_stores_feedback_on_the_host()
    {
        await using var host = await StartHost();
        using var h = await ReadyHarness(host);

        h.Type("prompt.text", "a red circle above a blue square");
        h.Click("prompt.seedpolicy.0"); // fixed
        h.Click("prompt.seed");
        h.Send(new KeyPressed(Key.Backspace), new TextEntered("40"));
        h.Frame();
        Assert.Equal("40", h.Plugin.State.Prompt.Seed);
        h.Click("prompt.generate");
        string jobId = Assert.IsType<string>(h.Plugin.State.CurrentJob);

        JobView Job() => h.Plugin.Client.Snapshot.Jobs[jobId];
        await h.FramesUntilAsync(() => Job().Phase == JobPhase.Completed, "the job to complete");
        var job = Job();
        Assert.Equal(4, job.Arrived);
        Assert.True(job.Ranked);
        Assert.Equal(40, job.BaseSeed);
        Assert.All(job.Candidates, c => Assert.Equal(2, c!.Rewards.Count));
        Assert.All(job.Candidates, c => Assert.NotNull(c!.Image));
        // Every tile is on screen, in the host's order.
        for (int i = 0; i < 4; i++) Assert.True(h.Plugin.Ui.WidgetRects.ContainsKey($"candidates.tile.{i}"));
        Assert.Equal(job.Order![0], job.Selected);

        // The breakdown shows the host's pick; hovering a certain segment shows its label after the delay.
        int best = job.Selected!.Value;
        var segment = job.Candidates[best]!.Rewards.SelectMany(r => r.Segments).First(s => s.Verdict == Verdict.Certain);
        var img = h.Rect("breakdown.image");
        var b = segment.Segment.Box;
        h.Send(new PointerMoved(img.Left + (float)((b.X + b.Width / 2) / 64 * img.Width), img.Top + (float)((b.Y + b.Height / 2) / 64 * img.Height)));
        Assert.Null(h.Frame().Tooltip);
        var shown = h.Frame(TimeSpan.FromMilliseconds(600));
        Assert.NotNull(shown.Tooltip);
        Assert.StartsWith(segment.Segment.Label + "\ncertain", shown.Tooltip);

        // Accept: a new layer in one undo group, and feedback the host has stored.
        h.Click("breakdown.accept");
        var layer = Assert.Single(h.Editor.Layers);
        Assert.Equal(job.Candidates[best]!.Image!.Pixels, layer.Image.Pixels);
        Assert.Single(h.Editor.UndoGroups);
        Assert.Equal(0, h.Editor.OpenUndoGroups);
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Feedback.Any(f => f.State == FeedbackState.Stored), "feedback to be stored");
        var stored = await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "default" });
        var fb = Assert.Single(stored.Feedback);
        Assert.Equal(FeedbackKind.Accepted, fb.Kind);
        Assert.Equal(jobId, fb.JobId);
        Assert.Equal(best, fb.CandidateIndex);
        Assert.Equal(job.Candidates[best]!.ImageId, fb.ImageId);
        Assert.Equal("a red circle above a blue square", fb.Prompt);

        // History has the job with the seed the host used.
        var entry = Assert.Single(h.Plugin.History.Entries);
        Assert.Equal(jobId, entry.JobId);
        Assert.Equal(40, entry.BaseSeed);
    }

    [Fact]
    public async Task Overriding_the_pick_and_sending_an_edited_layer()
    {
        await using var host = await StartHost();
        var editor = new FakeEditorHost();
        using var h = await ReadyHarness(host, editor);
        h.Type("prompt.text", "two green triangles");
        h.Click("prompt.generate");
        string jobId = h.Plugin.State.CurrentJob!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Jobs[jobId].Phase == JobPhase.Completed, "the job");
        var job = h.Plugin.Client.Snapshot.Jobs[jobId];
        int other = job.Order![^1];
        h.Click($"candidates.tile.{other}");
        h.Click("breakdown.pick");
        Assert.Equal(other, h.Plugin.State.PickedOf(job));

        editor.AddLayer("painted", ShapesSceneTestGenerator.Render("a red square", 5));
        h.Click("breakdown.edited");
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Feedback.Any(f => f.State != FeedbackState.Sending), "edited feedback");
        Assert.Equal(FeedbackState.Stored, h.Plugin.Client.Snapshot.Feedback.Single().State);
        var stored = Assert.Single((await host.Feedback.ListFeedbackAsync(new ListFeedbackRequest { ProfileId = "default" })).Feedback);
        Assert.Equal(FeedbackKind.Edited, stored.Kind);
        Assert.Equal(other, stored.CandidateIndex);
        // The uploaded image is the editor's layer, byte for byte after decoding.
        var png = await host.GetImageAsync(stored.ImageId);
        Assert.Equal(editor.Layers[0].Image.Pixels, PngCodec.Decode(png, overWhite: true).Image.Pixels);
    }

    [Fact]
    public async Task Cancel_stops_a_running_job()
    {
        using var gate = new ManualResetEventSlim(false);
        await using var host = await StartHost(new ShapesSceneTestGenerator { Gate = gate });
        using var h = await ReadyHarness(host);
        h.Type("prompt.text", "a red circle");
        h.Click("prompt.generate");
        string jobId = h.Plugin.State.CurrentJob!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Jobs[jobId].Phase == JobPhase.Running, "the job to run");
        h.Click("prompt.cancel");
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Jobs[jobId].Phase == JobPhase.Cancelled, "the job to be cancelled");
        Assert.Equal("interrupted while running", h.Plugin.Client.Snapshot.Jobs[jobId].Error);
    }

    [Fact]
    public async Task Unreachable_host_is_reported_with_the_reason()
    {
        int port = FreePort();
        using var client = new HostClient($"http://127.0.0.1:{port}");
        using var h = new PluginHarness(client);
        await h.FramesUntilAsync(() => client.Snapshot.Connection.State == ConnectionState.Unreachable, "unreachable");
        // What happened and what to do, not gRPC's "Error connecting to subchannel."
        Assert.Equal($"no FineRewards host at http://127.0.0.1:{port} (connection refused): start one with `finerewards serve`, or check the address and port (default 50151)",
            client.Snapshot.Connection.Message);
        Assert.Equal("connection refused: nothing listens on that port", Assert.Single(client.Snapshot.Connection.Problems));
    }

    [Fact]
    public async Task A_host_killed_mid_job_ends_the_job_in_the_ui_and_the_client_reconnects_when_it_is_back()
    {
        string data = TestHost.NewDataDirectory();
        try
        {
            // Held after its first step until the host stops: the stop abandons it mid-job, as a kill does.
            using var gate = new ManualResetEventSlim(false);
            var host = await StartHost(new ShapesSceneTestGenerator { Gate = gate }, dataDirectory: data);
            var address = host.Host.Address;
            var client = new HostClient(address.ToString().TrimEnd('/'), clientId: "plugin-test") { HostLostAfter = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromMilliseconds(500) };
            using var h = new PluginHarness(client);
            await h.FramesUntilAsync(() => client.Snapshot.Connection.State == ConnectionState.Ready, "ready");
            h.Type("prompt.text", "a red circle");
            h.Click("prompt.generate");
            string jobId = h.Plugin.State.CurrentJob!;
            var steps = new List<int>();
            await h.FramesUntilAsync(() => { steps.Add(client.Snapshot.Jobs[jobId].Step); return client.Snapshot.Jobs[jobId].Step >= 1; }, "the job to run");

            // The host goes away mid-job. A kill drops the connection at once; a graceful stop would keep the
            // open stream until its 15 s shutdown timeout, so the client drops it here as a kill would.
            var stopping = host.DisposeAsync().AsTask();
            client.Reconnect();
            await stopping;
            await h.FramesUntilAsync(() => { steps.Add(client.Snapshot.Jobs[jobId].Step); return client.Snapshot.Jobs[jobId].Finished; }, "the job to be ended in the UI");
            var job = client.Snapshot.Jobs[jobId];
            Assert.Equal(JobPhase.Failed, job.Phase);
            Assert.StartsWith("the host stopped answering during the job (", job.Error);
            Assert.Contains("finerewards serve", job.SuggestedFix);
            Assert.Equal(steps.Order(), steps); // the counter never went back

            // The host comes back on the same port and data: the client reconnects by itself and a new job runs.
            await using var back = await FineRewards.Server.Hosting.FineRewardsHost.StartAsync(
                new HostOptions(data, Port: address.Port, LogToConsole: false),
                TestHost.Models(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward()]));
            await h.FramesUntilAsync(() => client.Snapshot.Connection.State == ConnectionState.Ready, "the client to reconnect", TimeSpan.FromSeconds(30));
            // The restarted host marked the interrupted job failed, as the UI already shows it.
            using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(back.Address))
            using (var call = new GenerationService.GenerationServiceClient(channel).WatchJob(new WatchJobRequest { JobId = jobId }))
            {
                JobEvent? last = null;
                await foreach (var m in call.ResponseStream.ReadAllAsync()) if (m.Event is not null) last = m.Event;
                Assert.Equal(FailureCode.HostRestarted, last!.Failed.Code);
            }
            h.Click("prompt.generate");
            string second = h.Plugin.State.CurrentJob!;
            Assert.NotEqual(jobId, second);
            await h.FramesUntilAsync(() => client.Snapshot.Jobs[second].Phase == JobPhase.Completed, "a new job after the reconnect");
            client.Dispose();
        }
        finally { TestHost.TryDelete(data); }
    }

    [Fact]
    public async Task A_prompt_outside_the_packs_grammar_is_refused_before_generating_with_the_hosts_message()
    {
        var capabilities = new FineRewards.Core.Packs.PackCapabilities(ExamplePrompt: "a red circle above a blue square");
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward(), new ShapesSegmentTestReward()],
            capabilities: capabilities, checkPrompt: (prompt, field) => FineRewards.Shapes.Grammar.PromptGrammar.Parse(prompt, field));
        using var h = await ReadyHarness(host);
        h.Type("prompt.text", "a cat sitting on a red sofa");
        await h.FramesUntilAsync(() => PromptPanel.Refusal(h.Plugin.State.Prompt, h.Plugin.Client.Snapshot) is not null, "the host's answer");
        var refusal = PromptPanel.Refusal(h.Plugin.State.Prompt, h.Plugin.Client.Snapshot)!;
        Assert.StartsWith("prompt: \"a cat sitting on a red sofa\" is not in the Shapes grammar", refusal.Message);
        Assert.Contains("\"a red circle above a blue square\"", refusal.Fix);
        h.Click("prompt.generate");
        Assert.Null(h.Plugin.State.CurrentJob);

        // Rewritten in the grammar, the refusal goes and Generate runs.
        h.Click("prompt.text");
        h.Send(new KeyPressed(Key.End));
        h.Send(Enumerable.Repeat<InputEvent>(new KeyPressed(Key.Backspace), h.Plugin.State.Prompt.Prompt.Length).ToArray());
        h.Send(new TextEntered("a red circle"));
        h.Frame();
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.PromptCheck is { Ok: true, Prompt: "a red circle" }, "the host to accept it");
        h.Click("prompt.generate");
        Assert.NotNull(h.Plugin.State.CurrentJob);
    }

    [Fact]
    public async Task Choosing_a_pack_the_host_cannot_run_shows_its_problems_and_fix_and_the_ready_pack_still_generates()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), rewards: [new ShapesCaptionTestReward()]);
        using var h = await ReadyHarness(host);
        var packs = h.Plugin.Client.Snapshot.Connection.Host!.Packs;
        var missing = packs.Single(p => p.Name == "sd15");
        Assert.Equal(("missing", false), (missing.State, missing.Ready));
        Assert.Contains(missing.Problems, p => p.Contains(Path.Combine(Path.GetTempPath(), "finerewards-no-packs", "sd15")));
        Assert.StartsWith("put pack \"sd15\" under", missing.Fix);

        h.Type("prompt.text", "a red circle");
        h.Plugin.State.Prompt.Pack = "sd15";
        h.Frame();
        Assert.Equal("sd15", PromptPanel.UnusablePack(h.Plugin.State.Prompt, h.Plugin.Client.Snapshot)?.Name);
        h.Click("prompt.generate");
        Assert.Null(h.Plugin.State.CurrentJob);

        h.Plugin.State.Prompt.Pack = TestHost.Pack;
        h.Frame();
        Assert.Null(PromptPanel.UnusablePack(h.Plugin.State.Prompt, h.Plugin.Client.Snapshot));
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.PromptCheck is { Ok: true, Prompt: "a red circle" }, "the host to accept the prompt");
        h.Click("prompt.generate");
        Assert.NotNull(h.Plugin.State.CurrentJob);
    }

    [Fact]
    public async Task Host_without_its_default_pack_is_reported_as_missing_models()
    {
        await using var host = await TestHost.StartAsync(new ShapesSceneTestGenerator(), defaultPack: "sd15",
            rewards: [new ShapesCaptionTestReward()]);
        using var client = new HostClient(host.Host.Address.ToString().TrimEnd('/'));
        using var h = new PluginHarness(client);
        await h.FramesUntilAsync(() => client.Snapshot.Connection.State == ConnectionState.MissingModels, "missing models");
        Assert.Contains(client.Snapshot.Connection.Problems, p => p.StartsWith("pack sd15:") && p.Contains("finerewards-no-packs"));
        // Generate stays disabled: clicking it submits nothing.
        h.Type("prompt.text", "a red circle");
        h.Click("prompt.generate");
        Assert.Null(h.Plugin.State.CurrentJob);
        Assert.Empty(client.Snapshot.Jobs);
    }

    [Fact]
    public async Task A_dropped_job_stream_resumes_from_the_last_sequence_without_losing_or_repeating_events()
    {
        using var gate = new ManualResetEventSlim(false);
        await using var host = await StartHost(new ShapesSceneTestGenerator { Gate = gate });
        using var client = new HostClient(host.Host.Address.ToString().TrimEnd('/'));
        await WaitAsync(() => client.Snapshot.Connection.State == ConnectionState.Ready, "ready");
        string jobId = client.Generate(new JobParameters("a red circle", K: 3, SeedPolicy: Contracts.SeedPolicy.Fixed, BaseSeed: 3, Steps: 3));
        await WaitAsync(() => client.Snapshot.Jobs[jobId].Phase == JobPhase.Running, "running");
        long atBreak = client.Snapshot.Jobs[jobId].LastSequence;

        // Drop the stream while the job is held; its remaining events can only arrive through the resume.
        client.Reconnect();
        await WaitAsync(() => client.Snapshot.Jobs[jobId].Resumes >= 1, "the stream to be reopened");
        gate.Set();
        await WaitAsync(() => client.Snapshot.Jobs[jobId].Finished, "the job to finish");

        var job = client.Snapshot.Jobs[jobId];
        Assert.Equal(JobPhase.Completed, job.Phase);
        Assert.True(job.LastSequence > atBreak);
        Assert.Equal(3, job.Arrived);
        Assert.All(job.Candidates, c => Assert.True(c!.Scored));
        var all = (await host.WatchToEndAsync(jobId)).Select(e => e.Sequence).ToList();
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all);
        Assert.Equal(all[^1], job.LastSequence);
    }

    /// <summary>Generates a job of <paramref name="k"/> and accepts its best candidate through the panels: the profile's training data.</summary>
    static async Task AcceptOneAsync(PluginHarness h, string prompt)
    {
        h.Click("prompt.text");
        h.Send(new KeyPressed(Key.End)); // replace the last prompt
        h.Send(Enumerable.Repeat<InputEvent>(new KeyPressed(Key.Backspace), h.Plugin.State.Prompt.Prompt.Length).ToArray());
        h.Send(new TextEntered(prompt));
        h.Frame();
        h.Click("prompt.generate");
        string jobId = h.Plugin.State.CurrentJob!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Jobs[jobId].Phase == JobPhase.Completed, "the job to complete");
        int before = h.Plugin.Client.Snapshot.Feedback.Count(f => f.State == FeedbackState.Stored);
        h.Click("breakdown.accept");
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Feedback.Count(f => f.State == FeedbackState.Stored) > before, "feedback to be stored");
    }

    [Fact]
    public async Task Start_round_trains_on_accepted_feedback_lists_the_lora_and_generate_carries_it()
    {
        // The host's real TrainingService, job queue and LoRA registry; only the trainer is a test double
        // (it reports a falling loss per step and writes a small file).
        var trainer = new RecordingTrainer();
        var generator = new ShapesSceneTestGenerator();
        await using var host = await StartHost(generator, trainer: trainer);
        using var h = await ReadyHarness(host);
        await AcceptOneAsync(h, "a red circle above a blue square");
        await AcceptOneAsync(h, "two green triangles");

        h.Click("side.tabs.2");
        Assert.Contains(h.Plugin.Ui.WidgetRects.Keys, k => k == "training.start");
        h.Click("training.steps"); // the middle of the slider: about 25 steps per image
        int steps = (int)h.Plugin.State.Training.StepsPerImage;
        h.Click("training.start");
        string trainingId = Assert.IsType<string>(h.Plugin.State.Training.Current);
        TrainingView Training() => h.Plugin.Client.Snapshot.Trainings[trainingId];
        await h.FramesUntilAsync(() => Training().Finished, "the training round to finish");

        var done = Training();
        Assert.True(done.State == TrainingJobPhase.Completed, $"{done.State}: {done.Error}");
        Assert.Equal(2, done.FeedbackPairs);
        var call = Assert.Single(trainer.Calls);
        Assert.Equal(2 * steps, call.Options.Steps); // steps per image x accepted images
        Assert.Equal(["a red circle above a blue square", "two green triangles"], call.Prompts.Order(StringComparer.Ordinal));
        // Every loss the host reported arrived once, in order (the curve's points), ending with the last step's.
        Assert.Equal(await HostLossesAsync(host, trainingId), done.LossCurve.Select(p => (p.Step, p.Loss)));
        Assert.Equal((2 * steps, 1.0 / (2 * steps)), (done.LossCurve[^1].Step, done.LossCurve[^1].Loss));
        Assert.Equal(trainingId, done.LoraId);
        // The host's check against the base model came with the completed event: this test generator draws the same
        // with or without a LoRA, so the rewards are unchanged and the host did not make it active on its own.
        var check = Assert.IsType<LoraCheckView>(done.Check);
        Assert.Equal(("unchanged", false, 2), (check.Verdict, check.Activated, check.Prompts));
        Assert.All(check.Rewards, r => Assert.Equal(r.Base, r.New));

        // The new LoRA is listed (ListLoras) in the panel with the same check; Use activates it on the host and picks it for Generate.
        await h.FramesUntilAsync(() => h.Plugin.Ui.WidgetRects.ContainsKey($"training.lora.{trainingId}"), "the LoRA to be listed");
        Assert.Equal(check.Rewards, h.Plugin.Client.Snapshot.Loras.Single(l => l.LoraId == trainingId).Check!.Rewards);
        Assert.False(h.Plugin.Client.Snapshot.Loras.Single(l => l.LoraId == trainingId).Active);
        h.Click($"training.lora.{trainingId}.use");
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Loras.Any(l => l.LoraId == trainingId && l.Active), "the LoRA to be active");
        var registered = Assert.Single((await host.Training.ListLorasAsync(new ListLorasRequest { ProfileId = "default" })).Loras);
        Assert.True(registered.Active);

        h.Click("side.tabs.0");
        Assert.True(h.Rect($"prompt.lora.{trainingId}").Width > 0);
        h.Click("prompt.generate");
        string jobId = h.Plugin.State.CurrentJob!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Jobs[jobId].Finished, "the job with the LoRA to finish");
        Assert.Equal(JobPhase.Completed, h.Plugin.Client.Snapshot.Jobs[jobId].Phase);
        // The generator got the LoRA's file (the host resolved the id the plugin sent) at scale 1.
        var request = generator.Requests.Last();
        var lora = Assert.Single(request.Loras!);
        Assert.Equal(registered.Path, lora.Path);
        Assert.Equal(1.0, lora.Scale);

        // A restarted editor (same settings, new client) follows the profile's last round again from its first event.
        using (var again = await ReadyHarness(host, h.Editor))
        {
            Assert.Equal(trainingId, again.Plugin.State.Training.Current);
            await again.FramesUntilAsync(() => again.Plugin.Client.Snapshot.Trainings.TryGetValue(trainingId, out var t) && t.Finished, "the round to be followed again");
            var seen = again.Plugin.Client.Snapshot.Trainings[trainingId];
            Assert.Equal(TrainingJobPhase.Completed, seen.State);
            Assert.Equal(done.LossCurve, seen.LossCurve);
            Assert.Equal(done.LastSequence, seen.LastSequence);
        }

        // Delete: gone from the host and from the list.
        h.Click("side.tabs.2");
        h.Click($"training.lora.{trainingId}.delete");
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Loras.Count == 0, "the LoRA to be deleted");
        Assert.Empty((await host.Training.ListLorasAsync(new ListLorasRequest())).Loras);
        Assert.False(File.Exists(registered.Path));
    }

    [Fact]
    public async Task A_dropped_training_stream_resumes_from_the_last_sequence_without_losing_or_repeating_events()
    {
        using var gate = new ManualResetEventSlim(false);
        var trainer = new RecordingTrainer { Gate = gate };
        await using var host = await StartHost(trainer: trainer);
        using var h = await ReadyHarness(host);
        await AcceptOneAsync(h, "a red circle");
        var client = h.Plugin.Client as HostClient ?? throw new InvalidOperationException("needs the real client");
        string id = client.StartTraining(new TrainingParameters("default", StepsPerImage: 6));
        await WaitAsync(() => client.Snapshot.Trainings[id].LossCurve.Count >= 1, "the first step");
        long atBreak = client.Snapshot.Trainings[id].LastSequence;

        // The trainer is held after its first step: the remaining losses can only come through the resume.
        client.Reconnect();
        await WaitAsync(() => client.Snapshot.Trainings[id].Resumes >= 1, "the stream to be reopened");
        gate.Set();
        await WaitAsync(() => client.Snapshot.Trainings[id].Finished, "the training to finish");

        var t = client.Snapshot.Trainings[id];
        Assert.Equal(TrainingJobPhase.Completed, t.State);
        Assert.True(t.LastSequence > atBreak);
        Assert.Equal(await HostLossesAsync(host, id), t.LossCurve.Select(p => (p.Step, p.Loss)));
        Assert.Equal(t.LossCurve.Select(p => p.Step), t.LossCurve.Select(p => p.Index)); // one round: the curve's x is the step
        Assert.Equal(6, t.LossCurve[^1].Step);
    }

    [Fact]
    public async Task Start_round_without_accepted_images_shows_the_hosts_refusal()
    {
        await using var host = await StartHost(trainer: new RecordingTrainer());
        using var h = await ReadyHarness(host);
        h.Click("side.tabs.2");
        h.Click("training.start");
        string id = h.Plugin.State.Training.Current!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Trainings[id].Finished, "the refusal");
        var t = h.Plugin.Client.Snapshot.Trainings[id];
        Assert.Equal(TrainingJobPhase.Failed, t.State);
        Assert.Contains("no accepted or edited images", t.Error);
        Assert.Equal("check profile_id", t.SuggestedFix);
        Assert.True(h.Rect("training.start").Width > 0); // and a new round can be started once there is feedback
    }

    /// <summary>The DPO box reaches the host: an accepted image with nothing rejected beside it has no preference to learn.</summary>
    [Fact]
    public async Task Start_round_with_preferences_asks_the_host_for_dpo_and_shows_what_it_lacks()
    {
        var trainer = new RecordingTrainer();
        await using var host = await StartHost(trainer: trainer);
        using var h = await ReadyHarness(host);
        await AcceptOneAsync(h, "a red circle");
        h.Click("side.tabs.2");
        h.Click("training.preferences");
        h.Click("training.start");
        string id = h.Plugin.State.Training.Current!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Trainings[id].Finished, "the refusal");
        var t = h.Plugin.Client.Snapshot.Trainings[id];
        Assert.Equal(TrainingJobPhase.Failed, t.State);
        Assert.Contains("rejected candidate of the same job", t.Error);
        Assert.Empty(trainer.Calls);
    }

    [Fact]
    public async Task Generated_best_of_k_rounds_give_reward_curves_and_steps_counted_across_rounds()
    {
        await using var host = await StartHost(trainer: new RecordingTrainer());
        using var h = await ReadyHarness(host);
        await AcceptOneAsync(h, "a red circle above a blue square");
        h.Click("side.tabs.2");
        h.Click("training.generated");
        h.Click("training.rounds"); // the middle of 1..5
        Assert.Equal(3, h.Plugin.State.Training.Rounds);
        h.Click("training.start");
        string id = h.Plugin.State.Training.Current!;
        await h.FramesUntilAsync(() => h.Plugin.Client.Snapshot.Trainings[id].Finished, "the rounds to finish");

        var t = h.Plugin.Client.Snapshot.Trainings[id];
        Assert.True(t.State == TrainingJobPhase.Completed, $"{t.State}: {t.Error}");
        Assert.Equal(3, t.Rounds);
        Assert.Equal([1, 2, 3], t.RoundCurve.Select(r => r.Round));
        foreach (var round in t.RoundCurve)
        {
            Assert.Equal(["caption-test", "segments-test"], round.SelectedMean.Keys.Order(StringComparer.Ordinal));
            // The kept (best) candidate scores at least the mean of all candidates, per reward.
            Assert.All(round.SelectedMean, m => Assert.True(m.Value >= round.RewardMean[m.Key] - 1e-9, $"{m.Key}: {m.Value} < {round.RewardMean[m.Key]}"));
        }
        Assert.Equal(await HostLossesAsync(host, id), t.LossCurve.Select(p => (p.Step, p.Loss)));
        // The curve's x counts on across rounds: round r's steps start after rounds 1..r-1's.
        foreach (var p in t.LossCurve)
            Assert.Equal(t.RoundCurve.Where(r => r.Round < p.Round).Sum(r => r.TrainingSteps) + p.Step, p.Index);
        Assert.Equal(t.RoundCurve.Sum(r => r.TrainingSteps), t.StepsDone);
    }

    /// <summary>The (step, loss) of every loss event the host stored for the training, read straight from WatchTraining.</summary>
    static async Task<List<(int, double)>> HostLossesAsync(TestHost host, string trainingId)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = host.Training.WatchTraining(new WatchTrainingRequest { TrainingId = trainingId }, cancellationToken: cts.Token);
        var losses = new List<(int, double)>();
        while (await call.ResponseStream.MoveNext(cts.Token))
            if (call.ResponseStream.Current is var m && m.MessageCase == WatchTrainingResponse.MessageOneofCase.Event && m.Event.KindCase == TrainingEvent.KindOneofCase.Loss)
                losses.Add((m.Event.Loss.Step, m.Event.Loss.Loss));
        return losses;
    }

    static async Task WaitAsync(Func<bool> done, string what, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!done())
        {
            if (DateTime.UtcNow > end) throw new TimeoutException($"waited for {what}");
            await Task.Delay(20);
        }
    }

    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
