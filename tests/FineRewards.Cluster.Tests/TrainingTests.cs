using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Tests;

public sealed class TrainingTests
{
    [Theory]
    [InlineData(StoreKind.Memory)]
    [InlineData(StoreKind.Postgres)]
    public async Task A_LoRA_trained_on_one_worker_is_used_by_another(StoreKind kind)
    {
        var devices = new[] { new FakeDevice("p"), new FakeDevice("p") };
        await using var store = await TestStore.OpenAsync(kind);
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [] : [("gpu0", devices[i - 1])], store: store.Store);
        string training = Jobs.NewId();
        Assert.False(await cluster.Host.SubmitTrainingAsync(training, "a", Jobs.Training()));
        var events = await cluster.Host.TrainingEventsAsync(training);
        var completed = Assert.IsType<TrainingCompletedEvent>(events[^1].Data);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        // Content-addressed in the shared folder.
        Assert.Equal(Path.Combine(cluster.SharedFolder, "loras", completed.Sha256 + ".safetensors"), completed.Path);
        Assert.Equal(completed.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(completed.Path))));
        var trainer = devices.Single(d => d.Started.Any(s => s.JobId == training));

        // Both workers busy, the LoRA job waiting; then only the other worker is let go, so the LoRA job runs there.
        string[] busy = [Jobs.NewId(), Jobs.NewId()];
        string withLora = Jobs.NewId();
        foreach (var d in devices) foreach (var id in busy) d.Hold(id);
        foreach (var id in busy) await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec());
        foreach (var id in busy) await cluster.SiloRunningAsync(id);
        await cluster.Host.SubmitGenerationAsync(withLora, "b", Jobs.Spec(seed: 9, loras: new LoraReference(training, 0.8)));
        devices.Single(d => d != trainer).ReleaseAll();
        var generated = await cluster.Host.EventsAsync(withLora);
        Jobs.AssertWellFormed(generated, 4);
        var user = devices.Single(d => d.Started.Any(s => s.JobId == withLora));
        Assert.NotSame(trainer, user);
        Assert.Equal([completed.Sha256], user.LorasSeen[withLora]);
        Assert.Equal(FakeDevice.ImageIdOf(9, [completed.Sha256]),
            generated.Select(e => e.Data).OfType<CandidateReadyEvent>().Single(r => r.CandidateIndex == 0).ImageId);
        trainer.ReleaseAll();
        foreach (var id in busy) Jobs.AssertWellFormed(await cluster.Host.EventsAsync(id), 4);
    }

    [Fact]
    public async Task A_job_naming_a_LoRA_the_cluster_does_not_have_fails_naming_the_field()
    {
        await using var cluster = await TestCluster.StartAsync(i => i == 0 ? [("gpu0", new FakeDevice("p"))] : []);
        string id = Jobs.NewId();
        await cluster.Host.SubmitGenerationAsync(id, "a", Jobs.Spec(loras: new LoraReference("nope")));
        var failed = Assert.IsType<JobFailedEvent>((await cluster.Host.EventsAsync(id))[^1].Data);
        Assert.Contains("loras[0].name", failed.Message);
    }
}
