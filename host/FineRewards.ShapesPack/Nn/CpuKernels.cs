using System.Runtime.CompilerServices;
using FineRewards.Diffusion.Runtime;

namespace FineRewards.ShapesPack.Nn;

/// <summary>Puts this assembly's own convolutions (the augmentation blur, the readers' towers) under the oneDNN cap.</summary>
static class CpuKernels
{
    /// <summary>
    /// The Diffusion library caps oneDNN when it is first used, but code here can convolve before any Diffusion type is
    /// touched (<see cref="Data.Augment"/> does), and oneDNN keeps whatever it saw first for the whole process.
    /// </summary>
#pragma warning disable CA2255 // a library initializer on purpose: it must run before this assembly's first convolution
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void CapOneDnn() => OneDnnIsa.Apply();
}
