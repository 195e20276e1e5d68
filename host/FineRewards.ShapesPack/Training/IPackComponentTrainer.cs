using FineRewards.Core.Packs;

namespace FineRewards.ShapesPack.Training;

/// <summary>What every component trainer of the Shapes pack is given.</summary>
/// <param name="PackFolder">Where the pack is written (packs/shapes in a checkout).</param>
/// <param name="WorkFolder">Checkpoints and logs that do not ship (resume reads them).</param>
/// <param name="Minutes">Wall-clock budget; the trainer stops at a step boundary and saves.</param>
/// <param name="Steps">Step budget; null = until <paramref name="Minutes"/> runs out.</param>
/// <param name="Resume">Continue from the last checkpoint in <paramref name="WorkFolder"/>.</param>
/// <param name="Progress">One line per report (the CLI shows it; tests collect it).</param>
public sealed record PackTrainContext(
    string PackFolder,
    string WorkFolder,
    long DataSeed,
    double Minutes,
    long? Steps,
    bool Resume,
    string CommandLine,
    Action<string> Progress,
    CancellationToken CancellationToken = default)
{
    /// <summary>Whether this run's budget is spent: <see cref="Steps"/> steps taken in this run, or else <see cref="Minutes"/> of wall clock.</summary>
    public bool BudgetSpent(System.Diagnostics.Stopwatch clock, long stepsThisRun) =>
        CancellationToken.IsCancellationRequested
        || (Steps is long s ? stepsThisRun >= s : clock.Elapsed.TotalMinutes >= Minutes);
}

/// <summary>Trains one component of the Shapes pack from data it renders itself and records it in pack.json.</summary>
public interface IPackComponentTrainer
{
    /// <summary>The component's name in pack.json and on the command line (<c>--component NAME</c>).</summary>
    string Component { get; }
    string Description { get; }
    /// <summary>Components that must be trained first (e.g. the diffusion model needs the VAE).</summary>
    IReadOnlyList<string> DependsOn { get; }
    /// <returns>The component as recorded in pack.json (via <see cref="PackManifest.UpdateComponent"/>).</returns>
    PackComponent Train(PackTrainContext context);
}
