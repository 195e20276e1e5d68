using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Tests;

/// <summary>Training, the LoRA registry and feedback as each silo's gRPC services reach them (the serving adapters), with fake devices.</summary>
public sealed class ServingTests
{
    [Fact]
    public async Task Feedback_sent_to_one_silo_is_trained_on_by_a_worker_of_another_and_every_silo_lists_activates_and_deletes_its_LoRAs()
    {
        var devices = new[] { new FakeDevice(SiloServices.Pack), new FakeDevice(SiloServices.Pack) };
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [] : [("gpu0", devices[i - 1])]);
        var silos = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => SiloServices.OpenAsync(cluster, i)));
        string profile = "studio-" + Guid.NewGuid().ToString("N");

        // Feedback naming a cluster job's candidate, through the device-less silo.
        string job = Jobs.NewId();
        await cluster.Host.SubmitGenerationAsync(job, "a", Jobs.Spec(pack: SiloServices.Pack, k: 2));
        Jobs.AssertWellFormed(await cluster.Host.EventsAsync(job), 2);
        string image = silos[0].PutImage(200);
        var feedback = SiloServices.Accepted(profile, image, job, candidate: 1);
        Assert.False((await silos[0].Feedback.SubmitAsync(feedback, default)).Existing);
        Assert.True((await silos[1].Feedback.SubmitAsync(feedback, default)).Existing);
        Assert.Equal("candidate_index", (await Assert.ThrowsAsync<InputException>(() =>
            silos[0].Feedback.SubmitAsync(SiloServices.Accepted(profile, image, job, candidate: 2), default))).Field);
        Assert.Equal(RefusalKind.NotFound, (await Assert.ThrowsAsync<HostException>(() =>
            silos[0].Feedback.SubmitAsync(SiloServices.Accepted(profile, image, Jobs.NewId()), default))).Kind);
        Assert.Equal([feedback.FeedbackId], (await silos[2].Feedback.ListAsync(profile, default)).Select(f => f.Id));

        // A profile with nothing to learn is refused where the start arrives.
        var none = await Assert.ThrowsAsync<HostException>(() => silos[2].Training.StartAsync(SiloServices.TrainingOf(Jobs.NewId(), profile + "-none"), default));
        Assert.Equal((RefusalKind.FailedPrecondition, "profile_id"), (none.Kind, none.Field));

        // The round, started through another silo, runs on a worker and sees that feedback.
        string first = Jobs.NewId();
        var ticket = await silos[2].Training.StartAsync(SiloServices.TrainingOf(first, profile), default);
        Assert.False(ticket.Existing);
        Assert.True((await silos[1].Training.StartAsync(SiloServices.TrainingOf(first, profile), default)).Existing);
        var completed = Assert.IsType<TrainingCompletedEvent>((await cluster.Host.TrainingEventsAsync(first))[^1].Data);
        var trainer = devices.Single(d => d.FeedbackSeen.ContainsKey(first));
        Assert.Equal([feedback.FeedbackId], trainer.FeedbackSeen[first].Select(f => f.Id));
        Assert.Equal(LoraVerdict.Raised, completed.Evaluation!.Verdict);

        // Listed by every silo with its evidence, active (it raised the rewards), in the shared folder under its hash.
        var listed = Assert.Single(await silos[1].Training.ListLorasAsync(profile, default));
        Assert.Equal((first, profile, first, completed.Sha256, completed.Path, true), (listed.Id, listed.ProfileId, listed.TrainingId, listed.Sha256, listed.Path, listed.Active));
        Assert.Equal(1, listed.Metrics["pairs"]);
        Assert.Equal(completed.Evaluation, listed.Evaluation! with { Rewards = completed.Evaluation.Rewards });
        Assert.True(File.Exists(listed.Path));

        // A second LoRA of the profile takes over as active; another silo makes the first active again, a third deletes the second.
        string second = Jobs.NewId();
        await silos[0].Training.StartAsync(SiloServices.TrainingOf(second, profile, seed: 6), default);
        var secondDone = Assert.IsType<TrainingCompletedEvent>((await cluster.Host.TrainingEventsAsync(second))[^1].Data);
        Assert.Equal([(second, true), (first, false)], (await silos[2].Training.ListLorasAsync(profile, default)).Select(l => (l.Id, l.Active)));
        Assert.True((await silos[1].Training.ActivateLoraAsync(first, default)).Active);
        Assert.Equal([(second, false), (first, true)], (await silos[0].Training.ListLorasAsync(profile, default)).Select(l => (l.Id, l.Active)));
        Assert.Equal(second, (await silos[2].Training.DeleteLoraAsync(second, default)).Id);
        Assert.False(File.Exists(secondDone.Path));
        Assert.True(File.Exists(completed.Path));
        Assert.Equal([first], (await silos[1].Training.ListLorasAsync("", default)).Select(l => l.Id));

        // Bad LoRA ids: a malformed one names the field, an unknown or deleted one is not found, from any silo.
        Assert.Equal("lora_id", (await Assert.ThrowsAsync<InputException>(() => silos[0].Training.ActivateLoraAsync("no-such-lora", default))).Field);
        foreach (var call in new Func<Task>[]
        {
            () => silos[1].Training.ActivateLoraAsync(Jobs.NewId(), default),
            () => silos[2].Training.DeleteLoraAsync(second, default),
        })
            Assert.Equal((RefusalKind.NotFound, "lora_id"), await Assert.ThrowsAsync<HostException>(call) is var e ? (e.Kind, e.Field) : default);
        Assert.Equal("loras[0].name", (await Assert.ThrowsAsync<InputException>(() =>
            silos[0].Jobs.SubmitAsync(SiloServices.Generation(Jobs.NewId(), new LoraReference(second)), default))).Field);

        // The remaining LoRA, named by its id through any silo, is what a generation job loads.
        string withLora = Jobs.NewId();
        await silos[2].Jobs.SubmitAsync(SiloServices.Generation(withLora, new LoraReference(first, 0.7)), default);
        Jobs.AssertWellFormed(await cluster.Host.EventsAsync(withLora), 2);
        Assert.Equal([completed.Sha256], devices.Single(d => d.LorasSeen.ContainsKey(withLora)).LorasSeen[withLora]);
    }
}
