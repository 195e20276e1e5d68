using System.Buffers.Binary;
using FineRewards.Contracts;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using FineRewards.Contracts.IO;

namespace FineRewards.Core.IO;

/// <summary>The header of a .safetensors file: tensor dtypes and shapes, and the string metadata.</summary>
public sealed record SafetensorsHeader(
    IReadOnlyDictionary<string, (string Dtype, long[] Shape)> Tensors,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>One tensor as raw little-endian bytes (what <see cref="SafetensorsLayout.Write"/> writes and <see cref="SafetensorsLayout.ReadAll"/> reads).</summary>
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
/// The safetensors file layout (u64 little-endian header length, JSON header padded with spaces to
/// 8 bytes, raw little-endian data) at the byte level, so the domain can keep tensors (a candidate's
/// latents) without TorchSharp. The Diffusion engine's SafetensorsFile writes its tensors through here.
/// </summary>
public static class SafetensorsLayout
{
    const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static SafetensorsHeader ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path, out _);
    }

    static SafetensorsHeader ReadHeader(Stream stream, string path, out long dataStart)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Read(lengthBytes) != 8) throw new InvalidDataException($"{path}: too short for a safetensors file");
        long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length <= 0 || length > MaxHeaderBytes || length > stream.Length - 8)
            throw new InvalidDataException($"{path}: header length {length} is not plausible for a {stream.Length}-byte file");
        var headerBytes = new byte[length];
        stream.ReadExactly(headerBytes);
        dataStart = 8 + length;
        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes)?.AsObject() ?? throw new InvalidDataException($"{path}: empty header");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})");
        }
        var tensors = new Dictionary<string, (string, long[])>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) metadata[k] = v?.GetValue<string>() ?? "";
                continue;
            }
            string dtype = node!["dtype"]!.GetValue<string>();
            long[] shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            tensors[name] = (dtype, shape);
        }
        return new SafetensorsHeader(tensors, metadata);
    }

    /// <summary>
    /// Reads a small file whole (an aesthetic head, reference tensors) without a tensor library; errors are
    /// <see cref="InputException"/>s naming the file. Diffusion weights stream through TorchSharp instead.
    /// </summary>
    public static (IReadOnlyDictionary<string, RawTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadAll(string path)
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

    /// <summary>Reads one F32 tensor by name; errors name the file and what was expected.</summary>
    public static (float[] Data, long[] Shape) ReadFloat32(string path, string name)
    {
        using var stream = File.OpenRead(path);
        var header = ReadHeader(stream, path, out long dataStart);
        stream.Position = 8;
        var headerJson = new byte[dataStart - 8];
        stream.ReadExactly(headerJson);
        var node = JsonNode.Parse(headerJson)![name]
            ?? throw new InvalidDataException($"{path}: no tensor \"{name}\" (it has {string.Join(", ", header.Tensors.Keys)})");
        if (header.Tensors[name].Dtype != "F32") throw new InvalidDataException($"{path}: tensor \"{name}\" is {header.Tensors[name].Dtype}, expected F32");
        long[] shape = header.Tensors[name].Shape;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var offsets = node["data_offsets"]!.AsArray();
        long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
        if (end - begin != count * 4 || dataStart + end > stream.Length)
            throw new InvalidDataException($"{path}: tensor \"{name}\" has {end - begin} bytes for shape [{string.Join(", ", shape)}] (expected {count * 4})");
        var bytes = new byte[end - begin];
        stream.Position = dataStart + begin;
        stream.ReadExactly(bytes);
        var data = new float[count];
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian");
        return (data, shape);
    }

    /// <summary>Writes tensors (sorted by name) with string metadata, atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, RawTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            header[name] = new JsonObject
            {
                ["dtype"] = tensor.Dtype,
                ["shape"] = new JsonArray(tensor.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + tensor.Data.Length)),
            };
            blobs.Add(tensor.Data);
            offset += tensor.Data.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var blob in blobs) stream.Write(blob);
        });
    }
}
