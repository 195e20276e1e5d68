using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;

namespace FineRewards.Cluster.Workers;

/// <summary>
/// A real device: the host's own <see cref="JobRunner"/> (the packs of the silo's <c>ModelCatalog</c>,
/// loaded through the pack registry; images in the <c>ImageStore</c> on the shared folder) runs the job
/// exactly as on one machine, and its events go to the job's grain. LoRAs come from the shared folder,
/// each checked against the hash the registry holds before it is loaded.
/// </summary>
public sealed class RunnerDevice(JobRunner runner, IReadOnlyList<string> packs) : IDeviceExecutor
{
    public IReadOnlyList<string> Packs { get; } = packs;

    public async Task GenerateAsync(GenerationWork work, Func<IReadOnlyList<JobEventData>, Task<bool>> append, CancellationToken cancellationToken)
    {
        for (int i = 0; i < work.Loras.Count; i++)
        {
            var lora = work.Loras[i];
            if (!File.Exists(lora.Path)) throw new InputException($"loras[{i}].name", $"LoRA {lora.Id}: no file {lora.Path} in the shared folder on this silo");
            string sha;
            await using (var file = File.OpenRead(lora.Path)) sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            if (sha != lora.Sha256) throw new InputException($"loras[{i}].name", $"LoRA {lora.Id}: {lora.Path} has SHA-256 {sha}, the registry says {lora.Sha256}");
        }
        var spec = work.Spec with { Loras = [.. work.Loras.Select(l => new FineRewards.Contracts.LoraReference(l.Path, l.Scale))] };
        // The same job id, spec and base seed on every attempt: the candidates, their PNGs and image ids come out identical.
        var job = new Job(work.JobId, "cluster", spec, spec.Hash(), work.BaseSeed, DateTimeOffset.UtcNow);
        using var cancel = cancellationToken.Register(job.Cancellation.Cancel);
        var gate = new object();
        bool wanted = true;
        // The runner appends from its own threads, one batch after another, and expects each stored when the call returns.
        void Append(IReadOnlyList<JobEventData> events)
        {
            lock (gate)
            {
                if (!wanted) return;
                wanted = append(events).GetAwaiter().GetResult();
                // A superseded attempt or a finished job: stop the models; the cancelled event that follows is dropped here.
                if (!wanted) job.Cancellation.Cancel();
            }
        }
        await Task.Run(() => runner.RunAsync(job, Append, CancellationToken.None), CancellationToken.None);
    }

    public Task<byte[]> TrainAsync(TrainingWork work, Func<IReadOnlyList<TrainingEventData>, Task<bool>> append, CancellationToken cancellationToken) =>
        throw new NotSupportedException("training on a real pack's device is not in the cluster yet (docs/cluster.md); serve --cluster refuses StartTrainingRound");
}
