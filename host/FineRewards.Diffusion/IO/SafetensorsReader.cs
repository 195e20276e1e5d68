using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.IO;

/// <summary>Where one tensor of a .safetensors file is: dtype, shape and its byte range in the data section.</summary>
public sealed record SafetensorsEntry(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reads the tensors of a .safetensors file one at a time, so a multi-GB checkpoint is never held in
/// memory as a whole: the header is checked once (offsets inside the file, sizes matching dtype and
/// shape), then each <see cref="Read"/> seeks to one tensor.
/// </summary>
/// <remarks>
/// TorchSharp.PyBridge's <c>Safetensors.LoadStateDict</c> (used for small files by
/// <see cref="StateDictLoader"/>) returns every tensor at once, and re-parses the header on each call
/// when given a key subset, hence this reader for checkpoints.
/// </remarks>
public sealed class SafetensorsReader : IDisposable
{
    const long MaxHeaderBytes = 100L * 1024 * 1024;

    readonly FileStream _stream;
    readonly long _dataStart;

    public string Path { get; }
    /// <summary>Every tensor, in the order of its data in the file (reading in this order is sequential I/O).</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> ByName { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <exception cref="InvalidDataException">Not a safetensors file, or truncated; the message names the file.</exception>
    public SafetensorsReader(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist", path);
        _stream = File.OpenRead(path);
        try
        {
            (Entries, Metadata, _dataStart) = ReadHeader(_stream, path);
            ByName = Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    static (IReadOnlyList<SafetensorsEntry>, IReadOnlyDictionary<string, string>, long) ReadHeader(FileStream stream, string path)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Read(lengthBytes) != 8) throw new InvalidDataException($"{path}: {stream.Length} bytes, too short for a .safetensors file");
        long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length <= 0 || length > MaxHeaderBytes || length > stream.Length - 8)
            throw new InvalidDataException($"{path}: not a .safetensors file, or truncated (header length {length} in a {stream.Length}-byte file)");
        var headerBytes = new byte[length];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes)?.AsObject() ?? throw new InvalidDataException($"{path}: empty safetensors header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not a JSON object ({e.Message})");
        }
        long dataStart = 8 + length, dataBytes = stream.Length - dataStart;
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v is JsonValue value && value.TryGetValue(out string? s) ? s : v?.ToJsonString() ?? "";
                continue;
            }
            SafetensorsEntry entry;
            try
            {
                string dtype = node!["dtype"]!.GetValue<string>();
                long[] shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray();
                entry = new SafetensorsEntry(name, dtype, shape, offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>());
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentOutOfRangeException)
            {
                throw new InvalidDataException($"{path}: header entry \"{name}\" needs dtype, shape and data_offsets");
            }
            if (entry.End > dataBytes)
                throw new InvalidDataException($"{path}: truncated: tensor {name} ends at byte {entry.End} of the data section, but the file holds {dataBytes} data bytes");
            if (entry.Begin < 0 || entry.End < entry.Begin)
                throw new InvalidDataException($"{path}: tensor {name} has invalid data_offsets [{entry.Begin}, {entry.End}]");
            if (ElementSize(entry.Dtype) is int size && entry.End - entry.Begin != entry.Elements * size)
                throw new InvalidDataException($"{path}: tensor {name} ({entry.Dtype} {StateDictLoader.Shape(shape: entry.Shape)}) should take {entry.Elements * size} bytes, its offsets give {entry.End - entry.Begin}");
            entries.Add(entry);
        }
        return (entries.OrderBy(e => e.Begin).ToList(), metadata, dataStart);
    }

    /// <summary>Bytes per element of a safetensors dtype, or null for dtypes this project does not read.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };

    public static ScalarType? TorchType(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    /// <summary>One tensor as a new CPU tensor in the file's dtype (the caller disposes it).</summary>
    public Tensor Read(SafetensorsEntry entry)
    {
        var type = TorchType(entry.Dtype) ?? throw new InvalidDataException($"{Path}: tensor {entry.Name} has dtype {entry.Dtype}, which cannot be read");
        var tensor = empty(entry.Shape, dtype: type);
        try
        {
            _stream.Position = _dataStart + entry.Begin;
            // Straight into the tensor's storage: no managed copy of the data.
            var span = tensor.bytes;
            if (span.Length != entry.End - entry.Begin) throw new InvalidDataException($"{Path}: tensor {entry.Name} size mismatch");
            _stream.ReadExactly(span);
            return tensor;
        }
        catch (EndOfStreamException)
        {
            tensor.Dispose();
            throw new InvalidDataException($"{Path}: truncated while reading tensor {entry.Name}");
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    public void Dispose() => _stream.Dispose();
}
