using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FineRewards.Diffusion.Runtime;

/// <summary>
/// Keeps libtorch's oneDNN convolutions on their AVX kernels (no AVX2, FMA or AVX-512) on x86-64 Linux.
/// </summary>
/// <remarks>
/// Measured on an AMD EPYC with AVX-512 (libtorch 2.10 through TorchSharp 0.107; `finerewards doctor` reports the
/// check, <see cref="TorchProbe.ConvolutionError"/>): with oneDNN's own choice (AVX-512) a float32 3x3 convolution
/// with 24 input channels was up to 1.5 away from float64, so a single-file SD checkpoint's UNet missed diffusers'
/// output by 0.34 and bfloat16 pipelines drew other images; capped at AVX2 the forward pass was right but weight
/// gradients of small convolutions (a LoRA's rank-4 kernels) came back NaN or zero; capped at AVX (or SSE4.1) every
/// output and gradient matched float64 to 5e-7 and every fixture passed. On the Shapes pack the cap cost no
/// measurable time. oneDNN reads the switch (<c>ONEDNN_MAX_CPU_ISA</c>) once, at its first primitive, so it is set
/// natively (the runtime's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach native
/// <c>getenv</c> on Linux) when this assembly is first used, before any model here runs a convolution. A value the
/// user set is left alone (<c>ONEDNN_MAX_CPU_ISA=ALL</c> lifts the cap on a machine whose doctor check passes with it).
/// </remarks>
public static class OneDnnIsa
{
    public const string Variable = "ONEDNN_MAX_CPU_ISA";

    /// <summary>The cap this process runs under: the user's value, "AVX" when set here, or null (no cap).</summary>
    public static string? Cap { get; private set; }

    static readonly object Gate = new();
    static bool applied;

#pragma warning disable CA2255 // a library initializer on purpose: the switch must be set before any model's first convolution
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void CapOnLoad() => Apply();

    /// <summary>
    /// Sets the cap unless the user chose a value; idempotent. Every assembly that runs TorchSharp operations on its own
    /// tensors (not only through this library's models) calls it from its own module initializer: oneDNN latches the
    /// switch at the first convolution of the process, whichever assembly runs it (a ShapesPack augmentation blur run
    /// before any type here was touched left a whole test process uncapped, and its diffusion training went NaN).
    /// </summary>
    public static void Apply()
    {
        lock (Gate)
        {
            if (applied) return;
            applied = true;
            var given = Environment.GetEnvironmentVariable(Variable) ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA");
            if (!string.IsNullOrEmpty(given)) { Cap = given; return; }
            // Without AVX2 oneDNN is at or below the cap already; off Linux there is no libc setenv to call (doctor still checks).
            if (!Avx2.IsSupported || !OperatingSystem.IsLinux()) return;
            if (setenv(Variable, "AVX", 0) == 0) Cap = "AVX";
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
