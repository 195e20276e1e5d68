using Microsoft.ML.OnnxRuntime;

namespace FineRewards.Rewards.Runtime;

public sealed record OnnxInfo(bool Loaded, string? Version, IReadOnlyList<string> Providers, string? Error);

/// <summary>Reports the ONNX Runtime build and its execution providers.</summary>
public static class OnnxProbe
{
    public static OnnxInfo Probe()
    {
        try
        {
            var env = OrtEnv.Instance();
            return new OnnxInfo(true, env.GetVersionString(), env.GetAvailableProviders(), null);
        }
        catch (Exception e)
        {
            return new OnnxInfo(false, null, Array.Empty<string>(), $"{e.GetType().Name}: {e.Message}");
        }
    }
}
