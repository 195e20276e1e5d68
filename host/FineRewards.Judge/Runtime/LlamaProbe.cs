using LLama.Native;

namespace FineRewards.Judge.Runtime;

public sealed record LlamaInfo(bool Loaded, string? Library, bool GpuOffload, string? Error);

/// <summary>Checks that LLamaSharp's native backend loads (no model needed).</summary>
public static class LlamaProbe
{
    public static LlamaInfo Probe()
    {
        try
        {
            // Touching the API loads the native library; it throws if none fits this machine.
            bool gpu = NativeApi.llama_supports_gpu_offload();
            string? library = NativeLibraryConfig.LLama.LibraryHasLoaded ? "llama (LLamaSharp backend)" : null;
            return new LlamaInfo(true, library, gpu, null);
        }
        catch (Exception e)
        {
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            return new LlamaInfo(false, null, false, $"{e.GetType().Name}: {inner.Message}");
        }
    }
}
