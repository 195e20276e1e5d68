using System.Collections.Concurrent;
using System.Reflection;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Storage;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// What is durable when (docs/cluster.md): progress may wait in the job's grain to be stored with other
/// events, but nobody sees an event before it is stored, and nothing the grain accepted is dropped.
/// </summary>
public sealed class BatchingTests
{
    [Fact]
    public async Task Progress_is_seen_only_once_stored_and_held_progress_is_stored_with_the_next_event_or_after_the_window()
    {
        var store = SlowStore.Create(TimeSpan.FromMilliseconds(30));
        await using var cluster = await TestCluster.StartAsync(_ => [], silos: 1, store: store.Store);
        string id = Jobs.NewId();
        var job = cluster.Cluster.Client.GetGrain<IJobGrain>(id);
        var spec = Jobs.Spec();
        Assert.True(await job.Create(new JobRecord(id, WorkKind.Generation, "a", spec.ToJson(), spec.Hash(), 100, "p", "", DateTimeOffset.UtcNow),
            OnceKeys.Draft(new JobQueuedEvent(0)) with { OnceKey = "" }));
        Assert.True(await job.BeginAttempt(0));
        await job.Append(0, [OnceKeys.Draft(new JobStartedEvent("p", 100))]);
        Assert.Equal(1, store.EventWrites(id));                 // a start does not wait

        // Two steps: accepted, held, neither stored nor seen.
        await job.Append(0, [OnceKeys.Draft(new StepProgressEvent(1, 3, 0, 4))]);
        await job.Append(0, [OnceKeys.Draft(new StepProgressEvent(2, 3, 0, 4))]);
        Assert.Empty((await job.After(2, TimeSpan.Zero)).Events);
        Assert.Equal(2, await store.StoredAsync(id));

        // Within the window they are stored, in one write, and only then seen.
        var page = await job.After(2, TimeSpan.FromSeconds(10));
        Assert.Equal([3L, 4L], page.Events.Select(e => e.Sequence));
        Assert.Equal(4, await store.StoredAsync(id));
        Assert.Equal(2, store.EventWrites(id));

        // A step held when a candidate arrives goes with it, ahead of it, in one write, before Append returns.
        await job.Append(0, [OnceKeys.Draft(new StepProgressEvent(3, 3, 0, 4))]);
        await job.Append(0, [OnceKeys.Draft(new CandidateReadyEvent(0, 100, "img0", null))]);
        Assert.Equal(6, await store.StoredAsync(id));
        Assert.Equal(3, store.EventWrites(id));
        var all = (await job.After(0, TimeSpan.Zero)).Events;
        Assert.Equal(["queued", "started", "progress", "progress", "progress", "candidate_ready"],
            all.Select(e => JobEventData.FromJson(e.Json)).Select(Kind));
        Assert.Equal(all, (await store.Store.LoadJobAsync(id))!.Value.Events);
        Assert.Equal([1, 2, 3], all.Select(e => JobEventData.FromJson(e.Json)).OfType<StepProgressEvent>().Select(p => p.Step));
    }

    [Fact]
    public async Task A_watcher_of_jobs_through_the_cluster_sees_each_event_after_it_is_stored_and_every_step()
    {
        var store = SlowStore.Create(TimeSpan.FromMilliseconds(20));
        var device = new FakeDevice("p") { StepTime = TimeSpan.FromMilliseconds(30) };
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : [], store: store.Store);
        var ids = Enumerable.Range(0, 3).Select(_ => Jobs.NewId()).ToList();
        foreach (var (id, n) in ids.Select((id, n) => (id, n)))
            await cluster.Host.SubmitGenerationAsync(id, $"client{n}", Jobs.Spec(steps: 12, seed: n * 10));
        foreach (var id in ids)
        {
            var events = new List<JobEvent>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await foreach (var e in cluster.Host.WatchGenerationAsync(id, 0, timeout.Token))
            {
                Assert.True(await store.StoredAsync(id) >= e.Sequence, $"event {e.Sequence} ({Kind(e.Data)}) of job {id} was seen before it was stored");
                events.Add(e);
            }
            Jobs.AssertWellFormed(events, 4);
            Assert.Equal(Enumerable.Range(1, 12), events.Select(e => e.Data).OfType<StepProgressEvent>().Select(p => p.Step));
            // 12 steps of 30 ms in a 250 ms window: the whole job took fewer event writes than it has steps
            // (one write per event would be 15: the start, each step, the candidates, the end).
            Assert.True(store.EventWrites(id) < 12, $"{store.EventWrites(id)} event writes for {events.Count} events");
        }
    }

    [Fact]
    public async Task The_scheduler_stores_its_queue_without_the_jobs_specs()
    {
        // One held job on the only worker, two waiting: the stored queue names them, their specs stay in the jobs' records.
        var device = new FakeDevice("p");
        await using var cluster = await TestCluster.StartAsync(i => i == 1 ? [("gpu0", device)] : []);
        var ids = Enumerable.Range(0, 3).Select(_ => Jobs.NewId()).ToList();
        device.Hold(ids[0]);
        foreach (var id in ids) await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec());
        await cluster.SiloRunningAsync(ids[0]);
        var stored = await cluster.Store.LoadSchedulerAsync();
        Assert.NotNull(stored);
        Assert.Equal(ids[1..], stored.Queued.Select(j => j.JobId));
        Assert.Equal([ids[0]], stored.Running.Select(r => r.Job.JobId));
        Assert.All(stored.Queued.Concat(stored.Running.Select(r => r.Job)), j => Assert.Equal("", j.SpecJson));
        Assert.Equal(Jobs.Spec().ToJson(), (await cluster.Store.LoadJobAsync(ids[1]))!.Value.Job.SpecJson);
    }

    static string Kind(JobEventData e) => e switch
    {
        JobQueuedEvent => "queued",
        JobStartedEvent => "started",
        StepProgressEvent => "progress",
        CandidateReadyEvent => "candidate_ready",
        _ => e.GetType().Name,
    };

    /// <summary>
    /// An in-memory store whose job and event writes take a while (so a grain that let watchers see an event before
    /// its write ended would be caught), counting event writes per job. A proxy: every other store call goes to the
    /// in-memory store as it is, whatever the interface holds.
    /// </summary>
    public class SlowStore : DispatchProxy
    {
        readonly MemoryClusterStore inner = new();
        readonly ConcurrentDictionary<string, int> eventWrites = new(StringComparer.Ordinal);
        TimeSpan delay;

        public IClusterStore Store { get; private set; } = null!;

        public static SlowStore Create(TimeSpan delay)
        {
            var store = DispatchProxy.Create<IClusterStore, SlowStore>();
            var slow = (SlowStore)(object)store;
            (slow.delay, slow.Store) = (delay, store);
            return slow;
        }

        public int EventWrites(string jobId) => eventWrites.GetValueOrDefault(jobId);

        public async Task<long> StoredAsync(string jobId) => (await inner.LoadJobAsync(jobId))?.Events.Count ?? 0;

        protected override object? Invoke(MethodInfo? method, object?[]? args) => method!.Name switch
        {
            nameof(IClusterStore.InsertJobAsync) => InsertAsync((JobRecord)args![0]!, (ClusterEvent)args[1]!),
            nameof(IClusterStore.AppendEventsAsync) => AppendAsync((string)args![0]!, (IReadOnlyList<ClusterEvent>)args[1]!),
            _ => method.Invoke(inner, args),
        };

        async Task<bool> InsertAsync(JobRecord job, ClusterEvent first)
        {
            await Task.Delay(delay);
            return await inner.InsertJobAsync(job, first);
        }

        async Task AppendAsync(string jobId, IReadOnlyList<ClusterEvent> events)
        {
            await Task.Delay(delay);
            await inner.AppendEventsAsync(jobId, events);
            eventWrites.AddOrUpdate(jobId, 1, (_, n) => n + 1);
        }
    }
}
