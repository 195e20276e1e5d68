using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FineRewards.ShapesPack.Data;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Tests;

/// <summary>
/// oneDNN takes its kernel switch from the process environment at its first convolution. Before this assembly capped it
/// itself, the augmentation blur could run first (no Diffusion type touched yet) and leave the whole process on the
/// kernels that are wrong on an AMD EPYC: run alone, this test saw the variable unset, and with the blur first the
/// diffusion trainer's smoke test went NaN at step 2 (it did so in CI). No Diffusion type is named here on purpose.
/// </summary>
public class CpuKernelsTests
{
    [DllImport("libc")]
    static extern IntPtr getenv(string name);

    [Fact]
    public void The_augmentation_blur_runs_under_the_onednn_cap()
    {
        using var images = rand(2, 3, 64, 64);
        var (augmented, _) = Augment.Apply(images, null, new AugmentOptions(Clean: 0), new Random(9));
        augmented.Dispose();
        if (!OperatingSystem.IsLinux()) return;   // the cap is set through libc's setenv, on Linux only
        // The runtime's copy of the environment is the one the process started with: the user's choice, if any.
        string? user = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA");
        string? native = Marshal.PtrToStringAnsi(getenv("ONEDNN_MAX_CPU_ISA"));
        if (!string.IsNullOrEmpty(user)) Assert.Equal(Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA"), native);
        else if (Avx2.IsSupported) Assert.Equal("AVX", native);
        else Assert.Null(native);
    }
}
