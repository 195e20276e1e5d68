using System.Buffers.Binary;
using System.Text.Json;
using FineRewards.Core.Contracts;
using FineRewards.Core.IO;

namespace FineRewards.Rewards.Tests.Onnx;

/// <summary>The onnx-rewards fixture: paths, images, and the reference tensors of its safetensors files (F32, I64, U8).</summary>
public static class Reference
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-rewards");
    public static string Clip => Path.Combine(Root, "clip");
    public static string Sam => Path.Combine(Root, "sam");

    public static RgbImage Image(int i) => PngCodec.Decode(File.ReadAllBytes(Path.Combine(Root, $"image{i}.png"))).Image;

    public sealed record Tensor(string Dtype, long[] Shape, byte[] Data)
    {
        public float[] Floats() => Enumerable.Range(0, Data.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(i * 4))).ToArray();
        public long[] Longs() => Enumerable.Range(0, Data.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(Data.AsSpan(i * 8))).ToArray();
    }

    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") { foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString()!; continue; }
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            tensors[p.Name] = new Tensor(p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                bytes[(int)(8 + n + offsets[0])..(int)(8 + n + offsets[1])]);
        }
        return (tensors, metadata);
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}
