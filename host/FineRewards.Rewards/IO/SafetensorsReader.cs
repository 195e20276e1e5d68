using System.Buffers.Binary;
using System.Text.Json;
using FineRewards.Core;

namespace FineRewards.Rewards.IO;

/// <summary>One tensor of a safetensors file: dtype, shape and its raw little-endian bytes.</summary>
public sealed record RawTensor(string Dtype, long[] Shape, byte[] Data)
{
    public float[] Floats()
    {
        if (Dtype != "F32") throw new InvalidDataException($"tensor is {Dtype}, expected F32");
        var values = new float[Data.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(i * 4));
        return values;
    }

    public long[] Longs()
    {
        if (Dtype != "I64") throw new InvalidDataException($"tensor is {Dtype}, expected I64");
        var values = new long[Data.Length / 8];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(Data.AsSpan(i * 8));
        return values;
    }
}

/// <summary>
/// Reads small safetensors files (an aesthetic head, reference tensors) into memory without a tensor library:
/// u64 header length, JSON header, raw data. Diffusion's weights go through TorchSharp instead.
/// </summary>
public static class SafetensorsReader
{
    public static (IReadOnlyDictionary<string, RawTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "safetensors file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InputException(path, "too short for a safetensors file");
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (n <= 0 || n > bytes.Length - 8) throw new InputException(path, $"header length {n} does not fit a {bytes.Length}-byte file");
        var tensors = new Dictionary<string, RawTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long start = 8 + n + offsets[0], end = 8 + n + offsets[1];
                if (offsets.Length != 2 || start > end || end > bytes.Length)
                    throw new InputException(path, $"tensor {p.Name}: data offsets [{string.Join(",", offsets)}] run past the end of the file");
                tensors[p.Name] = new RawTensor(p.Value.GetProperty("dtype").GetString()!,
                    p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(), bytes[(int)start..(int)end]);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InputException(path, $"not a valid safetensors header ({e.Message})");
        }
        return (tensors, metadata);
    }
}
