using FineRewards.Cluster.Scheduling;
using FineRewards.Cluster.Workers;
using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Server;
using FineRewards.Server.Feedback;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using FineRewards.Server.Tests;
using FineRewards.Server.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// Workers on real devices (<see cref="RunnerDevice"/>: the host's own job and training runners) over small packs: the
/// trainer writes a LoRA that adds 40 to every pixel's red channel, and the generator applies the LoRAs it is given.
/// </summary>
public sealed class RealDeviceTests
{
    const string Slow = "slow";

    /// <param name="gate">When set, a job of pack <see cref="Slow"/> waits for it after its first step.</param>
    static IModelPack[] Packs(ManualResetEventSlim? gate = null) =>
    [
        new TestPack(SiloServices.Pack, new LoraShiftGenerator(), [new BrightnessReward(), new RednessReward()], new RecordingTrainer { Writes = "red+40" },
            probes: ["a red square", "a blue square"]),
        new TestPack(Slow, new SolidColourGenerator { StepDelay = TimeSpan.FromMilliseconds(40), Gate = gate }, [new BrightnessReward()]),
    ];

    /// <summary>A silo's device as `serve --cluster` builds it: the runners over the silo's own catalog and data folder, images in the shared folder.</summary>
    static RunnerDevice Device(string shared, List<SolidColourGenerator> slow)
    {
        // The silo's own data folder (SQLite, the training run folder), inside the shared one so the cluster's disposal removes it.
        string data = Directory.CreateDirectory(Path.Combine(shared, "silo-data", Guid.NewGuid().ToString("N"))).FullName;
        var packs = Packs(new ManualResetEventSlim());
        lock (slow) slow.Add((SolidColourGenerator)packs[1].Generator!);
        return RunnerDevice.Create(SiloServices.Catalog(packs), data, shared, [SiloServices.Pack, Slow]);
    }

    static async Task<Dictionary<string, long>> FinishedAsync(TestCluster cluster) =>
        (await cluster.Host.StatusAsync()).Workers.ToDictionary(w => w.WorkerId, w => w.Finished);

    /// <summary>Asks <paramref name="probe"/> every 20 ms until it answers (not null), failing with <paramref name="failure"/> after 20 s.</summary>
    static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string failure) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (await probe() is { } answer) return answer;
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(20);
        }
    }

    /// <summary>The worker that finished a job since <paramref name="before"/> (it reports its end just after the job's last event).</summary>
    static Task<string> WorkerThatRanAsync(TestCluster cluster, Dictionary<string, long> before) => UntilAsync(async () =>
        (await FinishedAsync(cluster)).Where(w => w.Value > before.GetValueOrDefault(w.Key)).Select(w => w.Key).ToList() is { Count: > 0 } ran ? Assert.Single(ran) : null,
        "no worker reported the job's end");

    static Task<string> WorkerRunningAsync(TestCluster cluster, string jobId) => UntilAsync(async () =>
        (await cluster.Host.StatusAsync()).Workers.FirstOrDefault(w => w.BusyJob == jobId)?.WorkerId, $"job {jobId} never ran");

    /// <summary>The one slow generator a job has reached (it waits at its gate).</summary>
    static Task<SolidColourGenerator> HeldAsync(List<SolidColourGenerator> slow) =>
        UntilAsync(() => Task.FromResult(slow.SingleOrDefault(g => g.Calls > 0)), "no slow job reached its generator");

    static byte RedOf(SiloServices silo, string imageId)
    {
        using var png = silo.Images.Open(imageId)!;
        using var bytes = new MemoryStream();
        png.CopyTo(bytes);
        return PngCodec.Decode(bytes.ToArray(), imageId).Image.Pixels[0];
    }

    [Fact]
    public async Task A_round_on_one_real_worker_publishes_a_LoRA_that_a_job_on_the_other_worker_draws_with_and_skips_reach_the_runner()
    {
        var slow = new List<SolidColourGenerator>();   // each device's generator of the slow pack, held at its own gate
        await using var cluster = await TestCluster.StartAsync((i, shared) => i == 0 ? [] : [("cpu", Device(shared, slow))]);
        var silo = await SiloServices.OpenAsync(cluster, 0, Packs());
        string profile = "studio-" + Guid.NewGuid().ToString("N");

        // A candidate the user accepts, then a round on its feedback.
        string plain = Jobs.NewId();
        await silo.Jobs.SubmitAsync(SiloServices.Generation(plain), default);
        var plainEvents = await cluster.Host.EventsAsync(plain);
        Jobs.AssertWellFormed(plainEvents, 2);
        string accepted = plainEvents.Select(e => e.Data).OfType<CandidateReadyEvent>().Single(r => r.CandidateIndex == 0).ImageId;
        await silo.Feedback.SubmitAsync(SiloServices.Accepted(profile, accepted, plain, 0), default);
        var before = await FinishedAsync(cluster);
        string training = Jobs.NewId();
        await silo.Training.StartAsync(SiloServices.TrainingOf(training, profile), default);
        var events = await cluster.Host.TrainingEventsAsync(training);
        var started = Assert.IsType<TrainingStartedEvent>(events.Select(e => e.Data).First(e => e is TrainingStartedEvent));
        Assert.Equal(1, started.FeedbackPairs);
        var completed = Assert.IsType<TrainingCompletedEvent>(events[^1].Data);
        Assert.Equal("red+40", File.ReadAllText(completed.Path));
        // The guard drew with it on the worker: redder and brighter, so it became the profile's active LoRA.
        Assert.Equal(LoraVerdict.Raised, completed.Evaluation!.Verdict);
        var lora = Assert.Single(await silo.Training.ListLorasAsync(profile, default));
        Assert.True(lora.Active);
        Assert.Equal((completed.Sha256, 1.0), (lora.Sha256, lora.Metrics["feedback_pairs"]));
        string trainer = await WorkerThatRanAsync(cluster, before);

        // The trainer is kept busy (a job held at its device's gate), so a job with the LoRA runs on the other worker.
        string held = Jobs.NewId();
        await silo.Jobs.SubmitAsync(SiloServices.Generation(held) with { Pack = Slow }, default);
        string first = await WorkerRunningAsync(cluster, held);
        if (first != trainer)
        {
            var firstGenerator = await HeldAsync(slow);
            string second = Jobs.NewId();
            await silo.Jobs.SubmitAsync(SiloServices.Generation(second) with { Pack = Slow }, default);
            Assert.Equal(trainer, await WorkerRunningAsync(cluster, second));
            var was = await FinishedAsync(cluster);
            firstGenerator.Gate!.Set();
            Jobs.AssertWellFormed(await cluster.Host.EventsAsync(held), 2);
            Assert.Equal(first, await WorkerThatRanAsync(cluster, was));
        }
        var beforeLora = await FinishedAsync(cluster);
        string withLora = Jobs.NewId();
        await silo.Jobs.SubmitAsync(SiloServices.Generation(withLora, new LoraReference(training)), default);
        var drawn = await cluster.Host.EventsAsync(withLora);
        Jobs.AssertWellFormed(drawn, 2);
        Assert.NotEqual(trainer, await WorkerThatRanAsync(cluster, beforeLora));
        // The same seed as the accepted candidate, drawn with the LoRA from the shared folder: 40 redder.
        string image = drawn.Select(e => e.Data).OfType<CandidateReadyEvent>().Single(r => r.CandidateIndex == 0).ImageId;
        Assert.Equal(Math.Min(255, RedOf(silo, accepted) + 40), RedOf(silo, image));
        foreach (var generator in slow) generator.Gate!.Set();

        // A skip through the device-less silo reaches the runner on the worker: the candidate is left out of the ranking.
        string slowJob = Jobs.NewId();
        await silo.Jobs.SubmitAsync(SiloServices.Generation(slowJob) with { Pack = Slow, K = 3, Steps = 25 }, default);
        await cluster.Host.FirstEventsAsync(slowJob, 3);   // queued, started, the first progress
        var (outcome, sequence, _) = await cluster.HostOn(0).SkipAsync(slowJob, 1);
        Assert.Equal(SkipOutcome.ResultDropped, outcome);
        var slowEvents = await cluster.Host.EventsAsync(slowJob);
        var skipped = Assert.Single(slowEvents, e => e.Data is CandidateSkippedEvent);
        Assert.Equal(sequence, skipped.Sequence);
        Assert.DoesNotContain(slowEvents, e => e.Data is CandidateReadyEvent { CandidateIndex: 1 } or CandidateScoredEvent { CandidateIndex: 1 });
        Assert.Equal([0, 2], Assert.Single(slowEvents.Select(e => e.Data).OfType<JobRankedEvent>()).Order.Order());
        Assert.IsType<JobCompletedEvent>(slowEvents[^1].Data);
    }
}
