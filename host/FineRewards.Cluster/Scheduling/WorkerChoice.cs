using FineRewards.Cluster.Workers;
using FineRewards.Server.Jobs;

namespace FineRewards.Cluster.Scheduling;

/// <summary>Which free worker takes a job: pure, so the scheduler's preference is tested without a cluster.</summary>
public static class WorkerChoice
{
    /// <summary>
    /// Among free workers that can load the pack: one with the pack and the job's LoRAs loaded, else
    /// one with the pack loaded, else one with nothing loaded, else any (switching packs costs a load);
    /// ties go to the worker that has run fewer jobs, then by id, so work spreads evenly.
    /// </summary>
    public static WorkerStatus? Best(IEnumerable<WorkerStatus> free, string pack, string loraKey) =>
        free.Where(w => w.Packs.Contains(pack, StringComparer.Ordinal))
            .OrderByDescending(w => w.LoadedPack == pack ? (w.LoadedLoraKey == loraKey ? 3 : 2) : w.LoadedPack is null ? 1 : 0)
            .ThenBy(w => w.Assigned)
            .ThenBy(w => w.WorkerId, StringComparer.Ordinal)
            .FirstOrDefault();
}

/// <summary>The LoRAs a job needs loaded, as one comparable string.</summary>
public static class LoraKeys
{
    public static string Of(GenerationJobSpec spec) =>
        string.Join(",", spec.Loras.Select(l => $"{l.Path}:{l.Scale:R}").Order(StringComparer.Ordinal));

    /// <summary>The LoRA id of one entry of a key ("id:scale").</summary>
    public static string IdOf(string entry) => entry[..entry.LastIndexOf(':')];
}
