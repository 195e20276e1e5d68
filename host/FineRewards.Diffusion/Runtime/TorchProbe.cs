using static TorchSharp.torch;

namespace FineRewards.Diffusion.Runtime;

public sealed record TorchInfo(bool Loaded, string? Error, int Threads, bool CudaAvailable, int CudaDevices);

/// <summary>Checks that libtorch loads and computes, for `finerewards doctor` and the tests.</summary>
public static class TorchProbe
{
    public static TorchInfo Probe()
    {
        try
        {
            using var scope = NewDisposeScope();
            var t = ones(2, 3).matmul(ones(3, 2));
            float v = t.sum().item<float>();
            if (v != 12f) return new TorchInfo(false, $"libtorch loaded but computed {v} for a sum that must be 12", 0, false, 0);
            bool hasCuda = TorchSharp.torch.cuda.is_available();
            return new TorchInfo(true, null, get_num_threads(), hasCuda, hasCuda ? TorchSharp.torch.cuda.device_count() : 0);
        }
        catch (Exception e)
        {
            // TorchSharp wraps the loader's error; the innermost message is the useful one.
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            return new TorchInfo(false, $"{e.GetType().Name}: {inner.Message}", 0, false, 0);
        }
    }
}
