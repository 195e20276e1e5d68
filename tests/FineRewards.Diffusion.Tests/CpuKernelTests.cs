using System.Runtime.Intrinsics.X86;
using FineRewards.Diffusion.Runtime;

namespace FineRewards.Diffusion.Tests;

/// <summary>
/// The convolutions oneDNN's AVX-512 and AVX2 kernels got wrong on an AMD EPYC (<see cref="OneDnnIsa"/>): without the
/// cap the first test failed there (relative error 0.38 with AVX-512, NaN with AVX2), and the UNet parity tests with it.
/// </summary>
public class CpuKernelTests
{
    [Fact]
    public void Float32_convolutions_and_their_gradients_match_float64()
    {
        double error = TorchProbe.ConvolutionError();
        Assert.True(error <= TorchProbe.ConvolutionTolerance,
            $"conv2d float32 is {error:E2} away from float64 ({OneDnnIsa.Variable}={OneDnnIsa.Cap ?? "unset"})");
    }

    [Fact]
    public void On_an_avx2_linux_machine_onednn_is_capped_at_avx_unless_the_user_chose()
    {
        string? user = Environment.GetEnvironmentVariable(OneDnnIsa.Variable) ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA");
        if (!string.IsNullOrEmpty(user)) Assert.Equal(user, OneDnnIsa.Cap);
        else if (Avx2.IsSupported && OperatingSystem.IsLinux()) Assert.Equal("AVX", OneDnnIsa.Cap);
        else Assert.Null(OneDnnIsa.Cap);
    }
}
