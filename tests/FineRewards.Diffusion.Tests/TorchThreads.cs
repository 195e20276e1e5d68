using System.Runtime.CompilerServices;

namespace FineRewards.Diffusion.Tests;

static class TorchThreads
{
    /// <summary>
    /// One libtorch thread per test: xunit already runs test classes in parallel on the (2) cores, and
    /// libtorch's OpenMP workers spin-wait for each other, so on a busy machine two threads per op made
    /// tiny-model tests 10-50x slower (measured: a tiny UNet forward 3.5 s with 2 threads, 0.06-0.1 s with 1).
    /// </summary>
    /// The oneDNN cap comes first, so a test that convolves with TorchSharp alone still gets the capped kernels.
    [ModuleInitializer]
    internal static void UseOneThread()
    {
        FineRewards.Diffusion.Runtime.OneDnnIsa.Apply();
        TorchSharp.torch.set_num_threads(1);
    }
}
