using FineRewards.Contracts;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Tests;

/// <summary>SkipCandidate in a cluster: through the job's grain to the worker running the job.</summary>
public sealed class SkipTests
{
    [Fact]
    public async Task A_skip_reaches_the_worker_running_the_job_and_a_job_that_is_not_running_is_refused_with_a_clear_code()
    {
        var device = new FakeDevice("p");
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : []);
        string running = Jobs.NewId(), waiting = Jobs.NewId();
        device.Hold(running);
        await cluster.Host.SubmitGenerationAsync(running, "a", Jobs.Spec(k: 4));
        await cluster.Host.SubmitGenerationAsync(waiting, "b", Jobs.Spec(k: 4));
        // Candidates 0 and 1 are ready, the job holds before the others.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            await foreach (var e in cluster.Host.WatchGenerationAsync(running, 0, timeout.Token))
                if (e.Data is CandidateReadyEvent { CandidateIndex: 1 }) break;
        var through = cluster.HostOn(0);   // a silo other than the worker's

        var waitingRefusal = await Assert.ThrowsAsync<HostException>(() => through.SkipAsync(waiting, 1));
        Assert.Equal((RefusalKind.FailedPrecondition, "job_id"), (waitingRefusal.Kind, waitingRefusal.Field));
        Assert.Contains("waiting for a worker", waitingRefusal.Message);

        var (dropped, droppedAt, state) = await through.SkipAsync(running, 0);       // already ready: its result is dropped
        Assert.Equal((SkipOutcome.ResultDropped, JobState.Running), (dropped, state));
        var (notMade, notMadeAt, _) = await cluster.HostOn(2).SkipAsync(running, 3); // not generated yet
        Assert.Equal(SkipOutcome.NotGenerated, notMade);
        Assert.Equal((SkipOutcome.AlreadySkipped, droppedAt, JobState.Running), await through.SkipAsync(running, 0));
        Assert.Equal("candidate_index", (await Assert.ThrowsAsync<InputException>(() => through.SkipAsync(running, 4))).Field);
        Assert.Equal(RefusalKind.NotFound, (await Assert.ThrowsAsync<HostException>(() => through.SkipAsync(Jobs.NewId(), 0))).Kind);
        var last = await Assert.ThrowsAsync<HostException>(async () => { await through.SkipAsync(running, 1); await through.SkipAsync(running, 2); });
        Assert.Equal((RefusalKind.FailedPrecondition, "candidate_index"), (last.Kind, last.Field));

        device.ReleaseAll();
        var events = await cluster.Host.EventsAsync(running);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        var skipped = events.Where(e => e.Data is CandidateSkippedEvent).ToDictionary(e => ((CandidateSkippedEvent)e.Data).CandidateIndex, e => e.Sequence);
        Assert.Equal(new Dictionary<int, long> { [0] = droppedAt, [3] = notMadeAt, [1] = skipped[1] }, skipped);
        // Nothing about a skipped candidate after its skip; the ranking holds the one left.
        Assert.DoesNotContain(events, e => e.Data is CandidateReadyEvent { CandidateIndex: 3 } or CandidateScoredEvent { CandidateIndex: 0 or 1 or 3 });
        Assert.Equal([2], Assert.Single(events.Select(e => e.Data).OfType<JobRankedEvent>()).Order);
        Assert.IsType<JobCompletedEvent>(events[^1].Data);

        Jobs.AssertWellFormed(await cluster.Host.EventsAsync(waiting), 4);
        var finished = await Assert.ThrowsAsync<HostException>(() => through.SkipAsync(waiting, 1));
        Assert.Equal((RefusalKind.FailedPrecondition, "job_id"), (finished.Kind, finished.Field));
        Assert.Contains("completed", finished.Message);
    }
}
