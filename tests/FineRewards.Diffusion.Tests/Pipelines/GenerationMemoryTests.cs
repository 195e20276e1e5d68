using System.Diagnostics;
using FineRewards.Contracts;
using FineRewards.Diffusion.Pipelines;
using TorchSharp;

namespace FineRewards.Diffusion.Tests.Pipelines;

/// <summary>Process-wide measurements: run alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory measurements";
}

[Collection(MemoryMeasurementCollection.Name)]
public class GenerationMemoryTests
{
    [Fact]
    public void A_hundred_generations_leave_no_tensors_behind()
    {
        using var pipeline = SyntheticPipeline.Create("tiny", seed: 1);
        // Guided, two candidates, the sampler with kept state (DPM++ keeps the previous x0), a preview: every path of a step.
        var request = new GenerationRequest("a red circle", K: 2, BaseSeed: 0, Sampler: "dpmpp_2m", Steps: 2, Width: 16, Height: 16);
        var preview = new PreviewOptions(1, _ => { });
        pipeline.Generate(request, null, preview);   // warm-up: one-time allocations (lazy hashes, kernels)
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        long rssBefore = process.WorkingSet64;

        for (int i = 0; i < 100; i++) pipeline.Generate(request with { BaseSeed = i }, null, preview);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        process.Refresh();
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long growth = process.WorkingSet64 - rssBefore;
        Assert.True(liveAfter <= liveBefore, $"live tensors grew from {liveBefore} to {liveAfter} over 100 generations");
        // Each generation's latents and activations are a few hundred KB; a leak of them would add tens of MB.
        Assert.True(growth < 64L << 20, $"working set grew by {growth >> 20} MiB over 100 generations");
    }
}
