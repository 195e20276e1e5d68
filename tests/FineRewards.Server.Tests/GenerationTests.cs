using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Ranking;
using FineRewards.Protocol.V1;
using FineRewards.Server.Storage;
using Grpc.Core;

namespace FineRewards.Server.Tests;

public class GenerationTests
{
    [Fact]
    public async Task Capabilities_report_packs_with_their_state_rewards_and_limits()
    {
        await using var host = await TestHost.StartAsync();
        var caps = await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest());

        Assert.Equal("1.0", caps.ProtocolVersion);
        Assert.Equal(TestHost.Pack, caps.DefaultPack);
        Assert.Equal(DeviceKind.Cpu, caps.Device.Kind);
        Assert.True(caps.Device.MemoryBytes > 0);
        Assert.Equal(PackState.Ready, caps.Packs.Single(p => p.Name == TestHost.Pack).State);
        var missing = caps.Packs.Single(p => p.Name == "sd15");
        Assert.Equal(PackState.Missing, missing.State);
        // The problems say where the host looked, so the user knows where to put the files.
        Assert.Contains(missing.Problems, p => p.Contains(Path.Combine(Path.GetTempPath(), "finerewards-no-packs", "sd15")));
        Assert.Equal($"put pack \"sd15\" under {Path.Combine(Path.GetTempPath(), "finerewards-no-packs")}", missing.Fix);
        Assert.Equal(["brightness", "redness"], caps.Rewards.Select(r => r.Name));
        Assert.Equal(16, caps.Limits.MaxK);
        Assert.Equal(1 << 20, caps.Limits.MaxMessageBytes);
    }

    [Fact]
    public async Task Capabilities_report_the_one_device_as_a_worker_with_its_queue_and_jobs_done()
    {
        await using var host = await TestHost.StartAsync();
        var before = (await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest())).Workers.Single();
        Assert.Equal("local", before.Id);
        Assert.Contains(TestHost.Pack, before.Packs);
        Assert.False(before.Busy);
        Assert.Equal(0, before.JobsDone);
        Assert.Equal("", before.LoadedPack);

        var request = TestHost.Request(k: 2, seed: 3);
        await host.Jobs.SubmitGenerationAsync(request);
        await host.WatchToEndAsync(request.JobId);

        // The worker's bookkeeping ends just after the job's last event.
        WorkerInfo after;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do after = (await host.HostClient.GetCapabilitiesAsync(new GetCapabilitiesRequest())).Workers.Single();
        while (after.JobsDone == 0 && DateTime.UtcNow < deadline);
        Assert.Equal(1, after.JobsDone);
        Assert.False(after.Busy);
        Assert.Equal("", after.JobId);
        Assert.Equal(0, after.QueueLength);
        Assert.Equal(TestHost.Pack, after.LoadedPack);
        Assert.InRange(after.Utilisation, double.Epsilon, 1);
    }

    [Fact]
    public async Task A_job_reports_numbered_events_and_ranks_candidates_by_their_rewards()
    {
        await using var host = await TestHost.StartAsync();
        var request = TestHost.Request(k: 4, seed: 3);
        var submitted = await host.Jobs.SubmitGenerationAsync(request);
        Assert.False(submitted.Existing);
        Assert.Equal(request.JobId, submitted.JobId);

        var events = await host.WatchToEndAsync(request.JobId);

        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.All(events, e => Assert.Equal(request.JobId, e.JobId));
        Assert.Equal(JobEvent.KindOneofCase.Queued, events[0].KindCase);
        Assert.Equal(JobEvent.KindOneofCase.Started, events[1].KindCase);
        Assert.Contains(events, e => e.KindCase == JobEvent.KindOneofCase.Progress && e.Progress.Step == 5 && e.Progress.Steps == 5);
        Assert.Equal(JobEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(JobEvent.KindOneofCase.Ranked, events[^2].KindCase);
        // Progress is written in the background, yet the last step always comes, and before any candidate;
        // every candidate is ready before any is scored.
        int lastProgress = events.FindLastIndex(e => e.KindCase == JobEvent.KindOneofCase.Progress);
        Assert.Equal(5, events[lastProgress].Progress.Step);
        Assert.True(lastProgress < events.FindIndex(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady));
        Assert.True(events.FindLastIndex(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady) < events.FindIndex(e => e.KindCase == JobEvent.KindOneofCase.CandidateScored));

        var ready = events.Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).Select(e => e.CandidateReady).ToList();
        Assert.Equal([0, 1, 2, 3], ready.Select(r => r.CandidateIndex));
        Assert.Equal([3L, 4, 5, 6], ready.Select(r => r.Seed));

        // Score the downloaded pixels here, independently of the host, and rank them by the paper's rule.
        var brightness = new List<double>();
        var redness = new List<double>();
        foreach (var r in ready)
        {
            byte[] png = await host.GetImageAsync(r.ImageId);
            Assert.Equal(r.ImageId, ImageStore.IdOf(png));
            var decoded = PngCodec.Decode(png);
            Assert.Equal(SolidColourGenerator.ColourOf(r.Seed), decoded.Image[7, 7]);
            string parameters = decoded.Text[GenerationParameters.ParametersKey];
            Assert.StartsWith("a red square\n", parameters);
            Assert.Contains($"Seed: {r.Seed}, Size: 16x16, Model: solid", parameters);
            Assert.Contains("Steps: 5, Sampler: ddim, CFG scale: 7.5", parameters);
            brightness.Add(BrightnessReward.Of(decoded.Image));
            redness.Add(new RednessReward().Score("", [decoded.Image])[0].Score);
        }
        var expected = CandidateRanker.Rank(
            Enumerable.Range(0, 4).Select(i => new CandidateScores($"{i}", new Dictionary<string, double> { ["brightness"] = brightness[i], ["redness"] = redness[i] })).ToList(),
            FineRewards.Core.Ranking.CombineMethod.Arl);

        var ranked = events[^2].Ranked;
        Assert.Equal("arl", ranked.Method);
        Assert.Equal(expected.Order.Select(int.Parse), ranked.Order);
        Assert.Equal(int.Parse(expected.Selected), ranked.Selected);

        var scored = events.Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateScored).Select(e => e.CandidateScored).ToList();
        Assert.Equal(4, scored.Count);
        foreach (var s in scored)
        {
            int i = s.CandidateIndex;
            Assert.Equal(brightness[i], s.Rewards.Single(r => r.Reward == "brightness").Score, 12);
            Assert.Equal(expected.Candidates[i].Ranks["redness"], s.Rewards.Single(r => r.Reward == "redness").Rank);
            Assert.Equal(expected.Candidates[i].Total, s.Total);
            var red = s.Rewards.Single(r => r.Reward == "redness");
            Assert.StartsWith("a ", red.Caption);
            var segment = Assert.Single(red.Segments);
            Assert.Equal([128, 128], segment.Mask.Runs); // 16x16, lower half set
            Assert.Equal(8, segment.Box.Y);
            Assert.Equal(segment.Label == "red" ? Verdict.Certain : Verdict.Unlikely, segment.Verdict);
            // The scored image is the same pixels with the reward breakdown added.
            var annotated = PngCodec.Decode(await host.GetImageAsync(s.ImageId));
            Assert.Contains("\"method\":\"arl\"", annotated.Text[GenerationParameters.BreakdownKey]);
            Assert.Contains("\"reward\":\"redness\"", annotated.Text[GenerationParameters.BreakdownKey]);
            Assert.Equal(SolidColourGenerator.ColourOf(3 + i), annotated.Image[0, 0]);
        }
    }

    [Fact]
    public async Task Resuming_after_a_disconnect_loses_and_repeats_nothing()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate });
        var request = TestHost.Request(k: 3, steps: 4);
        await host.Jobs.SubmitGenerationAsync(request);

        // First connection: read until the job has started, then go away.
        var first = await host.WatchUntilAsync(request.JobId, e => e.KindCase == JobEvent.KindOneofCase.Started);
        gate.Set(); // the job goes on while nobody watches
        var all = await host.WatchToEndAsync(request.JobId);
        Assert.Equal(JobEvent.KindOneofCase.Completed, all[^1].KindCase);

        var resumed = await host.WatchToEndAsync(request.JobId, after: first[^1].Sequence);
        Assert.Equal(first.Concat(resumed).Select(e => e.Sequence), all.Select(e => e.Sequence));
        Assert.Equal(first.Concat(resumed).Select(e => e.ToString()), all.Select(e => e.ToString()));
    }

    [Fact]
    public async Task A_client_disconnect_does_not_cancel_the_job()
    {
        var gate = new ManualResetEventSlim(false);
        var generator = new SolidColourGenerator { Gate = gate };
        await using var host = await TestHost.StartAsync(generator);
        var request = TestHost.Request(k: 2);
        await host.Jobs.SubmitGenerationAsync(request);
        await host.WatchUntilAsync(request.JobId, e => e.KindCase == JobEvent.KindOneofCase.Progress);
        gate.Set();
        var events = await host.WatchToEndAsync(request.JobId);
        Assert.Equal(JobEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(1, generator.Calls);
    }

    [Fact]
    public async Task Submitting_the_same_job_id_again_returns_the_existing_job()
    {
        var generator = new SolidColourGenerator();
        await using var host = await TestHost.StartAsync(generator);
        var request = TestHost.Request(k: 2);
        var first = await host.Jobs.SubmitGenerationAsync(request);
        var events = await host.WatchToEndAsync(request.JobId);
        var again = await host.Jobs.SubmitGenerationAsync(request);

        Assert.False(first.Existing);
        Assert.True(again.Existing);
        Assert.Equal(JobState.Completed, again.State);
        Assert.Equal(events[^1].Sequence, again.LastSequence);
        Assert.Equal(1, generator.Calls);
        // Upper-case spelling of the same UUID is the same job.
        Assert.True((await host.Jobs.SubmitGenerationAsync(new SubmitGenerationRequest(request) { JobId = request.JobId.ToUpperInvariant() })).Existing);

        // The same id with other parameters is a client bug, not a retry.
        var (field, _) = await RpcAssert.Fails(StatusCode.AlreadyExists,
            async () => await host.Jobs.SubmitGenerationAsync(new SubmitGenerationRequest(request) { K = 3 }));
        Assert.Equal("job_id", field);
        Assert.Equal(1, generator.Calls);
    }

    [Fact]
    public async Task Watch_sends_heartbeats_while_nothing_happens()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, heartbeat: TimeSpan.FromMilliseconds(100));
        var request = TestHost.Request(k: 1);
        await host.Jobs.SubmitGenerationAsync(request);
        using var call = host.Jobs.WatchJob(new WatchJobRequest { JobId = request.JobId });
        var heartbeats = new List<Heartbeat>();
        long lastEvent = 0;
        await foreach (var m in call.ResponseStream.ReadAllAsync())
        {
            if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event) lastEvent = m.Event.Sequence;
            else heartbeats.Add(m.Heartbeat);
            if (heartbeats.Count == 3) gate.Set();
            if (m.MessageCase == WatchJobResponse.MessageOneofCase.Event && m.Event.KindCase == JobEvent.KindOneofCase.Completed) break;
        }
        Assert.True(heartbeats.Count >= 3);
        Assert.All(heartbeats, h => Assert.True(h.LastSequence > 0 && h.LastSequence < lastEvent));
    }

    [Fact]
    public async Task Watchers_are_woken_by_each_event_not_by_the_heartbeat()
    {
        // Latency itself is measured by `finerewards bench host`; this catches a missed wake-up: with an
        // hour-long heartbeat, a stream that waited for it would hit the watch's timeout instead.
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate }, heartbeat: TimeSpan.FromHours(1));
        var request = TestHost.Request(k: 2, steps: 3);
        await host.Jobs.SubmitGenerationAsync(request);
        var early = await host.WatchUntilAsync(request.JobId, e => e.KindCase == JobEvent.KindOneofCase.Progress);
        var rest = host.WatchToEndAsync(request.JobId, after: early[^1].Sequence, timeout: TimeSpan.FromSeconds(20));
        gate.Set();   // every later event is appended while the stream above waits
        var events = await rest;
        Assert.Equal(JobEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(Enumerable.Range((int)early[^1].Sequence + 1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Thumbnails_come_with_candidates_when_asked_for()
    {
        await using var host = await TestHost.StartAsync();
        var request = TestHost.Request(k: 2);
        request.Width = 128;
        request.Height = 64;
        request.PreviewPolicy = PreviewPolicy.Thumbnails;
        await host.Jobs.SubmitGenerationAsync(request);
        var ready = (await host.WatchToEndAsync(request.JobId)).Where(e => e.KindCase == JobEvent.KindOneofCase.CandidateReady).ToList();
        Assert.Equal(2, ready.Count);
        var thumb = PngCodec.Decode(ready[0].CandidateReady.ThumbnailPng.ToByteArray()).Image;
        Assert.Equal((64, 32), (thumb.Width, thumb.Height));
        Assert.Equal(SolidColourGenerator.ColourOf(ready[0].CandidateReady.Seed), thumb[3, 3]);
    }

    [Fact]
    public async Task Seed_policies_fixed_increment_and_random()
    {
        await using var host = await TestHost.StartAsync();
        async Task<long> BaseSeed(SeedPolicy policy, long seed)
        {
            var r = TestHost.Request(k: 2, seed: seed);
            r.SeedPolicy = policy;
            await host.Jobs.SubmitGenerationAsync(r);
            return (await host.WatchToEndAsync(r.JobId)).Single(e => e.KindCase == JobEvent.KindOneofCase.Started).Started.BaseSeed;
        }
        Assert.Equal(10, await BaseSeed(SeedPolicy.Fixed, 10));
        Assert.Equal(12, await BaseSeed(SeedPolicy.Increment, 0));   // follows 10 + k
        Assert.Equal(14, await BaseSeed(SeedPolicy.Increment, 0));
        long[] randoms = [await BaseSeed(SeedPolicy.Random, 0), await BaseSeed(SeedPolicy.Random, 0)];
        Assert.NotEqual(randoms[0], randoms[1]);
    }

    [Fact]
    public async Task Watching_an_unknown_job_is_not_found()
    {
        await using var host = await TestHost.StartAsync();
        var (field, _) = await RpcAssert.Fails(StatusCode.NotFound, () => host.WatchToEndAsync(Guid.NewGuid().ToString()));
        Assert.Equal("job_id", field);
    }
}
