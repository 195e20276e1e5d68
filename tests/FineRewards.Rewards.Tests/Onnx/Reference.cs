using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Rewards.Tests.Onnx;

/// <summary>The onnx-rewards fixture: paths, images, and its reference tensors.</summary>
public static class Reference
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-rewards");
    public static string Clip => Path.Combine(Root, "clip");
    public static string Sam => Path.Combine(Root, "sam");

    public static RgbImage Image(int i) => PngCodec.Decode(File.ReadAllBytes(Path.Combine(Root, $"image{i}.png"))).Image;

    public static (IReadOnlyDictionary<string, RawTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path) => SafetensorsLayout.ReadAll(path);

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}
