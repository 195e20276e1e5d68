using System.Runtime;

namespace FineRewards.ShapesPack.Nn;

/// <summary>
/// Runs a burst of TorchSharp calls with no garbage collection in the middle. TorchSharp 0.107 creates a
/// <see cref="TorchSharp.Scalar"/> for every tensor-with-number operator and even for tensor + tensor (the
/// alpha argument) and leaves it to the finalizer, which can free it while libtorch still reads it
/// (dotnet/TorchSharp PR #1434): "Unknown scalar type" or "Expected false to be true" from Scalar.h, a
/// few times per thousand training steps here. Collecting first and then holding off the GC for the
/// burst means no finalizer runs during it.
/// </summary>
public static class NativeCalls
{
    /// <summary>Room for the burst's managed allocations; beyond it the GC runs anyway (no worse than without).</summary>
    const long Budget = 64L * 1024 * 1024;

    public static T Run<T>(Func<T> body)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool region = false;
        try
        {
            region = GC.TryStartNoGCRegion(Budget);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            // already inside a no-GC region (nested use), or the runtime cannot reserve the budget: run unguarded
        }
        try
        {
            return body();
        }
        finally
        {
            if (region && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                try { GC.EndNoGCRegion(); } catch (InvalidOperationException) { }
            }
        }
    }
}
