using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Storage;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using LoraRecord = FineRewards.Cluster.Storage.LoraRecord;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// What every <see cref="IClusterStore"/> does, run against each one. <see cref="OpenAsync"/> opens
/// another store on the same shared tables (for the database: a new instance, as a silo on another
/// machine or a restarted one would), so each read below is from a store that did not write it.
/// </summary>
public abstract class StoreContract : IAsyncLifetime
{
    protected abstract Task<IClusterStore> OpenAsync();

    // Whole milliseconds (the database keeps microseconds) and an offset other than UTC: a stored time is the same instant.
    static readonly DateTimeOffset T0 = new(2026, 12, 3, 15, 4, 5, 678, TimeSpan.FromHours(1));

    static JobRecord Job(string id, string client = "alice") =>
        new(id, WorkKind.Generation, client, """{"prompt":"a red circle"}""", "hash-" + id, 1234, "shapes", "lora-a,lora-b", T0);

    static ClusterEvent Event(long sequence, JobState? state = null, string once = "") =>
        new(sequence, T0.AddMilliseconds(sequence), $$"""{"seq":{{sequence}}}""", once, state);

    static string NewId() => "job-" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task A_stored_job_comes_back_with_its_first_event()
    {
        string id = NewId();
        Assert.True(await (await OpenAsync()).InsertJobAsync(Job(id), Event(1, JobState.Queued)));

        var loaded = await (await OpenAsync()).LoadJobAsync(id);
        Assert.NotNull(loaded);
        Assert.Equal(Job(id), loaded.Value.Job);
        Assert.Equal([Event(1, JobState.Queued)], loaded.Value.Events);
    }

    [Fact]
    public async Task A_taken_job_id_is_refused_and_nothing_is_written()
    {
        string id = NewId();
        var store = await OpenAsync();
        Assert.True(await store.InsertJobAsync(Job(id), Event(1, JobState.Queued)));
        Assert.False(await (await OpenAsync()).InsertJobAsync(Job(id, client: "bob") with { SpecJson = "{}" }, Event(1) with { Json = "{}" }));

        var loaded = (await store.LoadJobAsync(id))!.Value;
        Assert.Equal(Job(id), loaded.Job);
        Assert.Equal([Event(1, JobState.Queued)], loaded.Events);
    }

    [Fact]
    public async Task Events_are_appended_in_order_with_their_states_and_once_keys()
    {
        string id = NewId();
        var store = await OpenAsync();
        await store.InsertJobAsync(Job(id), Event(1, JobState.Queued));
        await store.AppendEventsAsync(id, [Event(2, JobState.Running, "started"), Event(3, once: "progress:1")]);
        await (await OpenAsync()).AppendEventsAsync(id, [Event(4, once: "ready:0")]);
        await store.AppendEventsAsync(id, [Event(5, JobState.Completed, "end")]);

        Assert.Equal(
            [Event(1, JobState.Queued), Event(2, JobState.Running, "started"), Event(3, once: "progress:1"), Event(4, once: "ready:0"), Event(5, JobState.Completed, "end")],
            (await (await OpenAsync()).LoadJobAsync(id))!.Value.Events);
    }

    [Fact]
    public async Task A_repeated_or_skipped_sequence_is_refused_and_nothing_of_its_batch_is_stored()
    {
        string id = NewId();
        var store = await OpenAsync();
        await store.InsertJobAsync(Job(id), Event(1, JobState.Queued));
        await store.AppendEventsAsync(id, [Event(2), Event(3)]);

        var repeat = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendEventsAsync(id, [Event(3) with { Json = "{}" }, Event(4)]));
        Assert.Contains(id, repeat.Message);
        var gap = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendEventsAsync(id, [Event(5), Event(6)]));
        Assert.Contains("event 5 does not follow 3", gap.Message);

        Assert.Equal([Event(1, JobState.Queued), Event(2), Event(3)], (await (await OpenAsync()).LoadJobAsync(id))!.Value.Events);
    }

    [Fact]
    public async Task Events_of_a_job_that_is_not_stored_are_refused_and_an_unknown_job_loads_as_nothing()
    {
        var store = await OpenAsync();
        string id = NewId();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendEventsAsync(id, [Event(1)]));
        Assert.Contains($"job {id} is not stored", e.Message);
        Assert.Null(await store.LoadJobAsync(id));
    }

    [Fact]
    public async Task A_registered_lora_is_found_by_its_id_and_registering_it_again_replaces_it()
    {
        string id = "train-" + Guid.NewGuid().ToString("N");
        var lora = new LoraRecord(id, "shapes", "/shared/loras/ab12.safetensors", "ab12", "silo1/gpu0", T0);
        var store = await OpenAsync();
        Assert.Null(await store.FindLoraAsync(id));
        await store.RegisterLoraAsync(lora);
        Assert.Equal(lora, await (await OpenAsync()).FindLoraAsync(id));

        var again = lora with { Path = "/shared/loras/cd34.safetensors", Sha256 = "cd34", TrainedBy = "silo2/gpu0" };
        await (await OpenAsync()).RegisterLoraAsync(again);
        Assert.Equal(again, await store.FindLoraAsync(id));
        Assert.Null(await store.FindLoraAsync(id + "-other"));
    }

    [Fact]
    public async Task A_profiles_loras_are_listed_newest_first_with_one_active_and_their_evidence_and_can_be_deleted()
    {
        string profile = "studio-" + Guid.NewGuid().ToString("N"), other = profile + "-other";
        var evaluation = new LoraEvaluation([new RewardChange("caption", 0.25, 0.5)], LoraVerdict.Raised, 8, 2, 16, Activated: true);
        LoraRecord Lora(string name, DateTimeOffset created, string owner, bool active) =>
            new($"{name}-{Guid.NewGuid():N}", "shapes", $"/shared/loras/{name}.safetensors", name, "silo1/gpu0", created, owner, active,
                new Dictionary<string, double> { ["steps"] = 3 }, evaluation);
        var store = await OpenAsync();
        var first = Lora("a1", T0, profile, active: true);
        var second = Lora("b2", T0.AddMinutes(1), profile, active: true);
        var elsewhere = Lora("c3", T0.AddMinutes(2), other, active: true);
        foreach (var l in new[] { first, second, elsewhere }) await store.RegisterLoraAsync(l);

        // An active LoRA replaces its profile's active one, and only its profile's.
        var listed = await (await OpenAsync()).ListLorasAsync(profile);
        Assert.Equal([(second.Id, true), (first.Id, false)], listed.Select(l => (l.Id, l.Active)));
        Assert.Equal(3, listed[0].Metrics!["steps"]);
        Assert.Equal(LoraVerdict.Raised, listed[0].Evaluation!.Verdict);
        Assert.Equal(0.5, listed[0].Evaluation!.Rewards.Single().NewMean);
        Assert.True((await store.FindLoraAsync(elsewhere.Id))!.Active);
        Assert.Superset(new[] { first.Id, second.Id, elsewhere.Id }.ToHashSet(), (await store.ListLorasAsync(null)).Select(l => l.Id).ToHashSet());

        var activated = await (await OpenAsync()).ActivateLoraAsync(first.Id);
        Assert.True(activated!.Active);
        Assert.Equal([(second.Id, false), (first.Id, true)], (await store.ListLorasAsync(profile)).Select(l => (l.Id, l.Active)));
        Assert.True((await store.FindLoraAsync(elsewhere.Id))!.Active);

        Assert.Equal(first.Id, (await (await OpenAsync()).DeleteLoraAsync(first.Id))!.Id);
        Assert.Null(await store.FindLoraAsync(first.Id));
        Assert.Equal([second.Id], (await store.ListLorasAsync(profile)).Select(l => l.Id));
        Assert.Null(await store.DeleteLoraAsync(first.Id));
        Assert.Null(await store.ActivateLoraAsync(first.Id));
    }

    [Fact]
    public async Task Feedback_is_stored_once_by_id_and_listed_per_profile_oldest_first()
    {
        string profile = "p-" + Guid.NewGuid().ToString("N");
        FeedbackRecord Feedback(DateTimeOffset time, string owner, string? job = null) =>
            new(Guid.NewGuid().ToString(), "u1", owner, FeedbackKind.Accepted, "two red circles", new string('a', 64), job, job is null ? null : 1, time);
        var store = await OpenAsync();
        var later = Feedback(T0.AddMinutes(1), profile, job: NewId());
        var earlier = Feedback(T0, profile);
        var elsewhere = Feedback(T0, profile + "-other");
        foreach (var f in new[] { later, earlier, elsewhere }) Assert.Equal((f, false), await store.InsertFeedbackAsync(f));

        var (stored, existing) = await (await OpenAsync()).InsertFeedbackAsync(later with { Prompt = "something else", Time = T0.AddHours(1) });
        Assert.True(existing);
        Assert.Equal(later, stored);
        Assert.Equal([earlier, later], await (await OpenAsync()).FeedbackOfAsync(profile));
        Assert.Empty(await store.FeedbackOfAsync(profile + "-none"));
    }

    [Fact]
    public async Task The_scheduler_queue_is_saved_replaced_and_loaded_whole()
    {
        var store = await OpenAsync();
        Assert.Null(await store.LoadSchedulerAsync());
        var waiting = new QueuedJob("j2", "bob", WorkKind.Training, "shapes", "", """{"steps":3}""", 77, 0);
        var requeued = new QueuedJob("j1", "alice", WorkKind.Generation, "shapes", "lora-a", """{"k":4}""", 500, 1);
        var first = new SchedulerSnapshot([requeued, waiting], [new RunningJob(waiting with { JobId = "j0" }, "silo1/gpu0")],
            new Dictionary<string, long> { ["alice"] = 501, ["bob"] = 78 });
        await store.SaveSchedulerAsync(first);
        AssertSame(first, await (await OpenAsync()).LoadSchedulerAsync());

        var second = new SchedulerSnapshot([waiting], [], new Dictionary<string, long> { ["alice"] = 505 });
        await (await OpenAsync()).SaveSchedulerAsync(second);
        AssertSame(second, await store.LoadSchedulerAsync());
    }

    static void AssertSame(SchedulerSnapshot expected, SchedulerSnapshot? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Queued, actual.Queued);
        Assert.Equal(expected.Running, actual.Running);
        Assert.Equal(expected.NextSeedByClient.OrderBy(p => p.Key), actual.NextSeedByClient.OrderBy(p => p.Key));
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;
}

public sealed class MemoryStoreContractTests : StoreContract
{
    readonly MemoryClusterStore store = new();

    protected override Task<IClusterStore> OpenAsync() => Task.FromResult<IClusterStore>(store);
}

public sealed class PostgresStoreContractTests : StoreContract
{
    PostgresSchema db = null!;
    readonly List<PostgresClusterStore> opened = [];

    public override async Task InitializeAsync() => db = await TestPostgres.NewSchemaAsync();

    protected override async Task<IClusterStore> OpenAsync()
    {
        var store = new PostgresClusterStore(db.ConnectionString);
        opened.Add(store);
        await store.EnsureSchemaAsync();
        return store;
    }

    public override async Task DisposeAsync()
    {
        foreach (var store in opened) await store.DisposeAsync();
        if (db is not null) await db.DisposeAsync();
    }
}
