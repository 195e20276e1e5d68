using FineRewards.Server.Jobs;

namespace FineRewards.Server.Tests;

public class JobRegistryTests
{
    sealed record Stored(string Id, string Hash);

    [Fact]
    public void A_job_is_read_from_the_database_once_and_then_kept()
    {
        int loads = 0;
        var registry = new JobRegistry<Stored>(id => { loads++; return id == "a" ? new Stored(id, "h") : null; });
        var first = registry.Find("a");
        Assert.Same(first, registry.Find("a"));
        Assert.Equal(1, loads);
        Assert.Null(registry.Find("b"));
        Assert.Null(registry.Find("b"));
        Assert.Equal(3, loads);   // an unknown id is asked again: it may be stored later
    }

    [Fact]
    public void A_retry_gets_its_job_and_another_request_under_the_same_id_is_refused()
    {
        var registry = new JobRegistry<Stored>(_ => null);
        Assert.Null(registry.Existing("j", "h1", s => s.Hash, "job_id", "job"));
        var job = new Stored("j", "h1");
        registry.Add("j", job);
        Assert.Same(job, registry.Existing("j", "h1", s => s.Hash, "job_id", "job"));
        var e = Assert.Throws<HostException>(() => registry.Existing("j", "h2", s => s.Hash, "training_id", "training"));
        Assert.Equal(RefusalKind.AlreadyExists, e.Kind);
        Assert.Equal("training_id", e.Field);
        Assert.Contains("training j exists with different parameters", e.Message);
        registry.Remove("j");
        Assert.Null(registry.Existing("j", "h2", s => s.Hash, "job_id", "job"));
    }

    [Fact]
    public async Task Cancelling_running_work_says_interrupted_unless_it_finished_first()
    {
        using var cancel = new CancellationTokenSource();
        var state = JobState.Running;
        var outcome = await JobRegistry<Stored>.CancelRunningAsync(cancel, async ct => { await Task.Yield(); state = JobState.Cancelled; }, () => state, default);
        Assert.True(cancel.IsCancellationRequested);
        Assert.Equal(CancelOutcome.Interrupted, outcome);

        using var late = new CancellationTokenSource();
        var completed = await JobRegistry<Stored>.CancelRunningAsync(late, _ => Task.CompletedTask, () => JobState.Completed, default);
        Assert.Equal(CancelOutcome.AlreadyFinished, completed);
    }
}
