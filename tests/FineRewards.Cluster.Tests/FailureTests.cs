using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Tests;

public sealed class FailureTests
{
    [Theory]
    [InlineData(StoreKind.Memory)]
    [InlineData(StoreKind.Postgres)]
    public async Task A_job_whose_silo_dies_finishes_on_another_worker_with_the_same_candidates_and_no_repeated_events(StoreKind kind)
    {
        // Devices on the second and third silos; the first holds the test cluster's membership and stays.
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p") };
        await using var store = await TestStore.OpenAsync(kind);
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [] : [("gpu0", devices[i - 1])], store: store.Store);
        string id = Jobs.NewId();
        foreach (var d in devices) d.Hold(id);
        await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec(k: 4, seed: 500));
        var silo = await cluster.SiloRunningAsync(id);

        // A watcher has everything up to the first two candidates (queued, started, 3 progress steps, ready 0 and 1).
        var before = await cluster.Host.FirstEventsAsync(id, 7);
        Assert.Equal([0, 1], before.Select(e => e.Data).OfType<CandidateReadyEvent>().Select(r => r.CandidateIndex));
        await cluster.Cluster.KillSiloAsync(silo);

        // It resumes after the last sequence it saw, as a client reconnecting to another silo would.
        var after = await cluster.Host.EventsAsync(id, before[^1].Sequence);
        var all = before.Concat(after).ToList();
        Jobs.AssertWellFormed(all, 4);
        Assert.Equal(all.Select(e => e.Sequence), (await cluster.Host.EventsAsync(id)).Select(e => e.Sequence));
        foreach (var ready in all.Select(e => e.Data).OfType<CandidateReadyEvent>())
            Assert.Equal(FakeDevice.ImageIdOf(500 + ready.CandidateIndex, []), ready.ImageId);
        // Ran twice: attempt 0 on the killed silo, attempt 1 on the other.
        Assert.Equal([(id, 0), (id, 1)], devices.SelectMany(d => d.Started).OrderBy(s => s.Attempt));
        Assert.Single(devices, d => d.Started.Contains((id, 1)));
    }

    [Fact]
    public async Task A_job_no_worker_is_left_for_fails_with_pack_unavailable()
    {
        var device = new FakeDevice("p");
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : []);
        string running = Jobs.NewId(), waiting = Jobs.NewId();
        device.Hold(running);
        await cluster.Host.SubmitGenerationAsync(running, "a", Jobs.Spec());
        var silo = await cluster.SiloRunningAsync(running);
        await cluster.Host.SubmitGenerationAsync(waiting, "b", Jobs.Spec());
        await cluster.Host.FirstEventsAsync(running, 7);
        await cluster.Cluster.KillSiloAsync(silo);

        foreach (string id in new[] { running, waiting })
        {
            var events = await cluster.Host.EventsAsync(id);
            var failed = Assert.IsType<JobFailedEvent>(events[^1].Data);
            Assert.Equal(FailureCode.PackUnavailable, failed.Code);
            Assert.Contains("no worker left in the cluster can load pack p", failed.Message);
            Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        }
        // The events the lost run had sent are still there, before the failure.
        Assert.Equal(2, (await cluster.Host.EventsAsync(running)).Select(e => e.Data).OfType<CandidateReadyEvent>().Count());
    }

    [Fact]
    public async Task A_cancelled_job_ends_once_whether_queued_or_running()
    {
        var device = new FakeDevice("p");
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : []);
        string running = Jobs.NewId(), waiting = Jobs.NewId();
        device.Hold(running);
        await cluster.Host.SubmitGenerationAsync(running, "a", Jobs.Spec());
        await cluster.SiloRunningAsync(running);
        await cluster.Host.SubmitGenerationAsync(waiting, "a", Jobs.Spec());
        Assert.Equal(CancelOutcome.RemovedFromQueue, await cluster.Host.CancelAsync(waiting));
        Assert.Equal(CancelOutcome.Interrupted, await cluster.Host.CancelAsync(running));
        Assert.Equal(CancelOutcome.NotFound, await cluster.Host.CancelAsync(Jobs.NewId()));
        Assert.Equal(JobCancelledEvent.RemovedFromQueue, Assert.IsType<JobCancelledEvent>((await cluster.Host.EventsAsync(waiting))[^1].Data).Reason);
        Assert.Equal(JobCancelledEvent.Interrupted, Assert.IsType<JobCancelledEvent>((await cluster.Host.EventsAsync(running))[^1].Data).Reason);
        Assert.Equal(CancelOutcome.AlreadyFinished, await cluster.Host.CancelAsync(running));
    }

    [Theory]
    [InlineData(StoreKind.Memory)]
    [InlineData(StoreKind.Postgres)]
    public async Task Losing_the_silo_of_the_scheduler_loses_no_queued_or_running_job(StoreKind kind)
    {
        // A device on every silo; the scheduler lives on one of them, and that silo is killed with a job running and two waiting.
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p"), new FakeDevice("p") };
        await using var store = await TestStore.OpenAsync(kind);
        await using var cluster = await TestCluster.StartAsync(i => [("gpu0", devices[i])], store: store.Store);
        var scheduler = cluster.Cluster.Client.GetGrain<ISchedulerGrain>(SchedulerGrain.Key);
        Assert.True(cluster.Cluster.TryGetGrainContext(scheduler.GetGrainId(), out var context));
        var schedulerSilo = cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(context!.Address.SiloAddress));
        if (schedulerSilo == cluster.Cluster.Silos[0])
        {
            // The first silo holds the test cluster's membership table: move the scheduler off it first.
            await cluster.Cluster.MigrateAsync(scheduler, cluster.Cluster.Silos[1].SiloAddress);
            schedulerSilo = cluster.Cluster.Silos[1];
            await cluster.WaitForWorkersAsync(3); // the moved scheduler knows workers from their next heartbeat
        }
        // One held job per device, two waiting behind them.
        var ids = Enumerable.Range(0, 5).Select(_ => Jobs.NewId()).ToList();
        foreach (var d in devices) foreach (var id in ids) d.Hold(id);
        foreach (var id in ids) await cluster.Host.SubmitGenerationAsync(id, $"client{id[0]}", Jobs.Spec());
        var onDoomed = new List<string>();
        foreach (var id in ids.Take(3))
            if ((await cluster.SiloRunningAsync(id)).SiloAddress.Equals(schedulerSilo.SiloAddress)) onDoomed.Add(id);
        Assert.Single(onDoomed);
        await cluster.Host.FirstEventsAsync(onDoomed[0], 7);

        var doomed = devices.Single(d => d.Started.Any(s => s.JobId == onDoomed[0]));
        await cluster.Cluster.KillSiloAsync(schedulerSilo);
        foreach (var d in devices.Where(d => d != doomed)) d.ReleaseAll();
        foreach (var id in ids)
        {
            var events = await cluster.Host.EventsAsync(id);
            Assert.True(events[^1].Data is JobCompletedEvent, $"job {id} ended with {events[^1].Data}");
            Jobs.AssertWellFormed(events, 4);
        }
        Assert.Contains(devices.Where(d => d != doomed).SelectMany(d => d.Started), s => s == (onDoomed[0], 1));
    }
}
