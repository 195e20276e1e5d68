using System.Security.Cryptography;
using System.Text;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Tests;

/// <summary>A worker's silo dies mid-job: what the re-run on another worker keeps (skips, a training's LoRA).</summary>
public sealed class RerunTests
{
    [Fact]
    public async Task Candidates_skipped_before_the_worker_was_lost_stay_skipped_in_the_re_run()
    {
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p") };
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [] : [("gpu0", devices[i - 1])]);
        string id = Jobs.NewId();
        foreach (var d in devices) d.Hold(id);
        await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec(k: 4, seed: 300));
        var silo = await cluster.SiloRunningAsync(id);
        await cluster.Host.FirstEventsAsync(id, 7);   // queued, started, 3 steps, ready 0 and 1
        Assert.Equal(SkipOutcome.ResultDropped, (await cluster.Host.SkipAsync(id, 0)).Outcome);
        Assert.Equal(SkipOutcome.NotGenerated, (await cluster.Host.SkipAsync(id, 3)).Outcome);
        await cluster.Cluster.KillSiloAsync(silo);

        var events = await cluster.Host.EventsAsync(id);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal([0, 3], events.Select(e => e.Data).OfType<CandidateSkippedEvent>().Select(s => s.CandidateIndex));
        Assert.Equal([0, 1, 2], events.Select(e => e.Data).OfType<CandidateReadyEvent>().Select(r => r.CandidateIndex).Order());
        Assert.Equal([1, 2], events.Select(e => e.Data).OfType<CandidateScoredEvent>().Select(r => r.CandidateIndex).Order());
        Assert.Equal([1, 2], Assert.Single(events.Select(e => e.Data).OfType<JobRankedEvent>()).Order.Order());
        Assert.IsType<JobCompletedEvent>(events[^1].Data);
        Assert.Single(devices, d => d.Started.Contains((id, 1)));
    }

    [Fact]
    public async Task A_training_whose_worker_is_lost_is_run_again_with_the_same_id_and_seed_and_publishes_its_LoRA_once()
    {
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p") };
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [] : [("gpu0", devices[i - 1])]);
        string id = Jobs.NewId();
        foreach (var d in devices) d.Hold(id);
        Assert.False(await cluster.Host.SubmitTrainingAsync(id, "a", Jobs.Training(seed: 41)));
        var silo = await cluster.SiloRunningAsync(id);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            await foreach (var e in cluster.Host.WatchTrainingAsync(id, 0, timeout.Token))
                if (e.Data is TrainingLossEvent) break;
        await cluster.Cluster.KillSiloAsync(silo);

        var events = await cluster.Host.TrainingEventsAsync(id);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Single(events, e => e.Data is TrainingStartedEvent);
        Assert.Equal([1, 2, 3], events.Select(e => e.Data).OfType<TrainingLossEvent>().Select(l => l.Step));
        var completed = Assert.IsType<TrainingCompletedEvent>(events[^1].Data);
        Assert.Equal([(id, 0), (id, 1)], devices.SelectMany(d => d.Started).OrderBy(s => s.Attempt));
        // The fake trainer's bytes come from the id and seed: the re-run made the same LoRA, registered once under the id.
        string expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"fake safetensors of {id} seed 41 pairs ")));
        Assert.Equal(expected, completed.Sha256);
        var lora = await cluster.Store.FindLoraAsync(id);
        Assert.Equal((expected, "studio"), (lora!.Sha256, lora.ProfileId));
    }
}
