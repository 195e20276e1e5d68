using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Tests;

static class Jobs
{
    public static GenerationJobSpec Spec(string pack = "p", int k = 4, long seed = 100, int steps = 3, params LoraReference[] loras) =>
        new("two red circles", "", k, SeedPolicy.Fixed, seed, "ddim", steps, 4.0, 64, 64, pack, loras, ["caption", "sam"],
            CombineMethod.Arl, new Dictionary<string, double>(), PreviewPolicy.None);

    public static TrainingJobSpec Training(string pack = "p", long seed = 7) =>
        new("studio", pack, 1, 2, ["caption"], "arl", null, null, 1e-4, 4, false, [], 0.25, seed);

    public static string NewId() => Guid.NewGuid().ToString();

    /// <summary>Every event of the job until its last, failing the test after <paramref name="seconds"/>.</summary>
    public static async Task<List<JobEvent>> EventsAsync(this ClusterHost host, string jobId, long after = 0, int seconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var events = new List<JobEvent>();
        await foreach (var e in host.WatchGenerationAsync(jobId, after, timeout.Token)) events.Add(e);
        return events;
    }

    public static async Task<List<TrainingEvent>> TrainingEventsAsync(this ClusterHost host, string id, int seconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var events = new List<TrainingEvent>();
        await foreach (var e in host.WatchTrainingAsync(id, 0, timeout.Token)) events.Add(e);
        return events;
    }

    /// <summary>Waits until the job has reported at least <paramref name="count"/> events.</summary>
    public static async Task<List<JobEvent>> FirstEventsAsync(this ClusterHost host, string jobId, int count, int seconds = 20)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var events = new List<JobEvent>();
        await foreach (var e in host.WatchGenerationAsync(jobId, 0, timeout.Token))
        {
            events.Add(e);
            if (events.Count >= count) break;
        }
        return events;
    }

    /// <summary>Sequences 1..N without gaps, and no candidate, start or end reported twice.</summary>
    public static void AssertWellFormed(IReadOnlyList<JobEvent> events, int k)
    {
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Single(events, e => e.Data is JobStartedEvent);
        Assert.Equal(Enumerable.Range(0, k), events.Select(e => e.Data).OfType<CandidateReadyEvent>().Select(r => r.CandidateIndex).Order());
        Assert.Equal(Enumerable.Range(0, k), events.Select(e => e.Data).OfType<CandidateScoredEvent>().Select(r => r.CandidateIndex).Order());
        Assert.Single(events, e => e.Data is JobRankedEvent);
        Assert.IsType<JobCompletedEvent>(events[^1].Data);
    }
}
