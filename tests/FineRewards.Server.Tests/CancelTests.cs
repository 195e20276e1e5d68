using FineRewards.Protocol.V1;

namespace FineRewards.Server.Tests;

public class CancelTests
{
    [Fact]
    public async Task Cancelling_a_running_job_interrupts_it_and_only_it()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate });
        var running = TestHost.Request(k: 2);
        var waiting = TestHost.Request(k: 2);
        await host.Jobs.SubmitGenerationAsync(running);
        await host.Jobs.SubmitGenerationAsync(waiting);
        await host.WatchUntilAsync(running.JobId, e => e.KindCase == JobEvent.KindOneofCase.Progress);

        var cancel = await host.Jobs.CancelJobAsync(new CancelJobRequest { JobId = running.JobId });
        Assert.Equal(CancelOutcome.Interrupted, cancel.Outcome);
        Assert.Equal(JobState.Cancelled, cancel.State);
        var events = await host.WatchToEndAsync(running.JobId);
        Assert.Equal("interrupted while running", events[^1].Cancelled.Reason);
        Assert.DoesNotContain(events, e => e.KindCase == JobEvent.KindOneofCase.CandidateReady);

        gate.Set();
        var other = await host.WatchToEndAsync(waiting.JobId);
        Assert.Equal(JobEvent.KindOneofCase.Completed, other[^1].KindCase);
        Assert.True(other.Single(e => e.KindCase == JobEvent.KindOneofCase.Started).Time.ToDateTime() >= events[^1].Time.ToDateTime());
    }

    [Fact]
    public async Task Cancelling_a_queued_job_removes_it_and_moves_the_ones_behind_up()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate });
        var running = TestHost.Request(k: 1);
        var second = TestHost.Request(k: 1);
        var third = TestHost.Request(k: 1);
        await host.Jobs.SubmitGenerationAsync(running);
        await host.WatchUntilAsync(running.JobId, e => e.KindCase == JobEvent.KindOneofCase.Started);
        await host.Jobs.SubmitGenerationAsync(second);
        await host.Jobs.SubmitGenerationAsync(third);

        var cancel = await host.Jobs.CancelJobAsync(new CancelJobRequest { JobId = second.JobId });
        Assert.Equal(CancelOutcome.RemovedFromQueue, cancel.Outcome);
        var secondEvents = await host.WatchToEndAsync(second.JobId);
        Assert.Equal([JobEvent.KindOneofCase.Queued, JobEvent.KindOneofCase.Cancelled], secondEvents.Select(e => e.KindCase));
        Assert.Equal("removed from the queue", secondEvents[^1].Cancelled.Reason);

        gate.Set();
        Assert.Equal(JobEvent.KindOneofCase.Completed, (await host.WatchToEndAsync(running.JobId))[^1].KindCase);
        var thirdEvents = await host.WatchToEndAsync(third.JobId);
        Assert.Equal(JobEvent.KindOneofCase.Completed, thirdEvents[^1].KindCase);
        Assert.Equal([1, 0], thirdEvents.Where(e => e.KindCase == JobEvent.KindOneofCase.Queued).Select(e => e.Queued.Position));
    }

    [Fact]
    public async Task Cancelling_a_finished_or_unknown_job_says_so_and_changes_nothing()
    {
        await using var host = await TestHost.StartAsync();
        var request = TestHost.Request(k: 1);
        await host.Jobs.SubmitGenerationAsync(request);
        var events = await host.WatchToEndAsync(request.JobId);

        var finished = await host.Jobs.CancelJobAsync(new CancelJobRequest { JobId = request.JobId });
        Assert.Equal(CancelOutcome.AlreadyFinished, finished.Outcome);
        Assert.Equal(JobState.Completed, finished.State);
        Assert.Equal(events.Count, (await host.WatchToEndAsync(request.JobId)).Count);

        var unknown = await host.Jobs.CancelJobAsync(new CancelJobRequest { JobId = Guid.NewGuid().ToString() });
        Assert.Equal(CancelOutcome.NotFound, unknown.Outcome);
    }

    [Fact]
    public async Task The_queue_takes_clients_in_turn()
    {
        var gate = new ManualResetEventSlim(false);
        await using var host = await TestHost.StartAsync(new SolidColourGenerator { Gate = gate });
        var blocker = TestHost.Request(k: 1);
        await host.Jobs.SubmitGenerationAsync(blocker);
        await host.WatchUntilAsync(blocker.JobId, e => e.KindCase == JobEvent.KindOneofCase.Started);

        var a = Enumerable.Range(0, 3).Select(_ => new SubmitGenerationRequest(TestHost.Request(k: 1)) { ClientId = "a" }).ToList();
        var b = new SubmitGenerationRequest(TestHost.Request(k: 1)) { ClientId = "b" };
        foreach (var r in a) await host.Jobs.SubmitGenerationAsync(r);
        await host.Jobs.SubmitGenerationAsync(b);
        gate.Set();

        var starts = new List<(DateTime, string)>();
        foreach (var r in a.Append(b))
        {
            var events = await host.WatchToEndAsync(r.JobId);
            starts.Add((events.Single(e => e.KindCase == JobEvent.KindOneofCase.Started).Time.ToDateTime(), r.JobId));
        }
        var order = starts.OrderBy(s => s.Item1).Select(s => s.Item2).ToList();
        Assert.Equal([a[0].JobId, b.JobId, a[1].JobId, a[2].JobId], order);
    }
}
