using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Tests;

public sealed class SchedulingTests
{
    [Fact]
    public async Task Jobs_spread_over_three_silos_one_at_a_time_per_device()
    {
        await using var cluster = await TestCluster.StartAsync(i => [("gpu0", new FakeDevice("p") { StepTime = TimeSpan.FromMilliseconds(20) })]);
        var ids = Enumerable.Range(0, 9).Select(_ => Jobs.NewId()).ToList();
        foreach (var (id, n) in ids.Select((id, n) => (id, n)))
            Assert.False((await cluster.Host.SubmitGenerationAsync(id, $"client{n % 3}", Jobs.Spec(seed: n * 10))).Existing);

        foreach (var (id, n) in ids.Select((id, n) => (id, n)))
        {
            var events = await cluster.Host.EventsAsync(id);
            Jobs.AssertWellFormed(events, 4);
            Assert.Equal(n * 10L, events.Select(e => e.Data).OfType<JobStartedEvent>().Single().BaseSeed);
            Assert.Equal(FakeDevice.ImageIdOf(n * 10 + 2, []), events.Select(e => e.Data).OfType<CandidateReadyEvent>().Single(r => r.CandidateIndex == 2).ImageId);
        }
        Assert.All(cluster.Devices.Values, d => Assert.Equal(1, d.MaxConcurrent));
        Assert.All(cluster.Devices.Values, d => Assert.NotEmpty(d.Started));             // every silo's device worked
        Assert.Equal(ids.Order(), cluster.Devices.Values.SelectMany(d => d.Started).Select(s => s.JobId).Order()); // each job ran once
        var status = await cluster.Host.StatusAsync();
        Assert.Equal(9, status.Workers.Sum(w => w.Finished));
        Assert.Equal(0, status.Queued);
    }

    [Fact]
    public async Task A_retried_submit_returns_the_job_and_another_spec_under_its_id_is_refused()
    {
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [("gpu0", new FakeDevice("p"))] : []);
        string id = Jobs.NewId();
        Assert.False((await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec())).Existing);
        Assert.True((await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec())).Existing);
        var clash = await Assert.ThrowsAsync<HostException>(() => cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec(seed: 1)));
        Assert.Equal(RefusalKind.AlreadyExists, clash.Kind);
        var noWorker = await Assert.ThrowsAsync<HostException>(() => cluster.Host.SubmitGenerationAsync(Jobs.NewId(), "a", Jobs.Spec(pack: "other")));
        Assert.Equal(RefusalKind.FailedPrecondition, noWorker.Kind);
        Assert.Equal("pack", noWorker.Field);
        Jobs.AssertWellFormed(await cluster.Host.EventsAsync(id), 4);
    }

    [Fact]
    public async Task Clients_are_served_in_turn_as_on_one_host()
    {
        // One worker, on the second silo: A0 holds it while A1..A3 and B1 queue.
        var device = new FakeDevice("p");
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : []);
        string a0 = Jobs.NewId(), a1 = Jobs.NewId(), a2 = Jobs.NewId(), a3 = Jobs.NewId(), b1 = Jobs.NewId();
        var hold = device.Hold(a0);
        await cluster.Host.SubmitGenerationAsync(a0, "A", Jobs.Spec());
        await cluster.SiloRunningAsync(a0);
        foreach (var id in new[] { a1, a2, a3 }) await cluster.Host.SubmitGenerationAsync(id, "A", Jobs.Spec());
        await cluster.Host.SubmitGenerationAsync(b1, "B", Jobs.Spec());

        // B1 was told it is second in line (A1 B1 A2 A3), as FairQueue orders them.
        var b1Queued = (await cluster.Host.FirstEventsAsync(b1, 1)).Select(e => e.Data).OfType<JobQueuedEvent>().First();
        Assert.Equal(1, b1Queued.Position);
        hold.SetResult();
        foreach (var id in new[] { a0, a1, a2, a3, b1 }) Jobs.AssertWellFormed(await cluster.Host.EventsAsync(id), 4);
        Assert.Equal([a0, a1, b1, a2, a3], device.Started.Select(s => s.JobId));
        // A3 was queued third (A1 A2 A3), B1 went ahead of it unannounced (as on one host, only moves up are
        // announced), and it was told each time it moved up: A1 leaving kept it at 2, B1 and A2 leaving moved it.
        var a3Positions = (await cluster.Host.EventsAsync(a3)).Select(e => e.Data).OfType<JobQueuedEvent>().Select(q => q.Position).ToList();
        Assert.Equal([2, 1, 0], a3Positions);
    }

    [Fact]
    public async Task A_job_goes_to_the_worker_that_has_its_pack_loaded()
    {
        var first = new FakeDevice("p", "q");
        var second = new FakeDevice("p", "q");
        await using var cluster = await TestCluster.StartAsync(i => i switch { 1 => [("gpu0", first)], 2 => [("gpu0", second)], _ => [] });
        var runs = new List<(string Pack, string Worker)>();
        foreach (string pack in new[] { "q", "p", "q", "p", "q", "p" })
        {
            string id = Jobs.NewId();
            await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec(pack: pack));
            Jobs.AssertWellFormed(await cluster.Host.EventsAsync(id), 4);
            runs.Add((pack, first.Started.Any(s => s.JobId == id) ? "first" : "second"));
        }
        // The first "p" job went to the worker with nothing loaded; from then on each pack stays where it is loaded.
        Assert.Single(runs.Where(r => r.Pack == "q").Select(r => r.Worker).Distinct());
        Assert.Single(runs.Where(r => r.Pack == "p").Select(r => r.Worker).Distinct());
        Assert.NotEqual(runs[0].Worker, runs[1].Worker);
        var status = await cluster.Host.StatusAsync();
        Assert.Equal(["p", "q"], status.Workers.Select(w => w.LoadedPack!).Order());
    }

    [Fact]
    public void The_choice_prefers_pack_and_lora_loaded_then_pack_then_an_empty_worker()
    {
        WorkerStatus W(string id, string? pack, string lora = "", long assigned = 0) => new(id, ["p", "q"], pack, lora, null, assigned, assigned, 0, 1, 1);
        var workers = new[] { W("a", "q"), W("b", null), W("c", "p"), W("d", "p", "lora1:1") };
        Assert.Equal("d", WorkerChoice.Best(workers, "p", "lora1:1")!.WorkerId);
        Assert.Equal("c", WorkerChoice.Best(workers, "p", "")!.WorkerId);
        Assert.Equal("b", WorkerChoice.Best(workers[..2], "p", "")!.WorkerId);
        Assert.Equal("a", WorkerChoice.Best([W("a", "q", assigned: 1), W("e", "q", assigned: 2)], "p", "")!.WorkerId);
        Assert.Null(WorkerChoice.Best(workers, "other", ""));
    }
}
