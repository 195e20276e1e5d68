using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core.IO;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.IO;

/// <summary>The header of a .safetensors file: tensor dtypes and shapes, and the string metadata.</summary>
public sealed record SafetensorsHeader(
    IReadOnlyDictionary<string, (string Dtype, long[] Shape)> Tensors,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reads headers and writes whole files in the safetensors layout (u64 little-endian header length,
/// JSON header padded with spaces to 8 bytes, raw little-endian data).
/// </summary>
/// <remarks>
/// Tensors are read through TorchSharp.PyBridge (<see cref="StateDictLoader.ReadSafetensors"/>).
/// PyBridge neither writes nor returns the `__metadata__` block, and LoRA files need it (base model
/// hash, rank, alpha, rounds — what AUTOMATIC1111 and ComfyUI show), so writing and header reading
/// are done here.
/// </remarks>
public static class SafetensorsFile
{
    /// <summary>Dtypes, shapes and metadata of a file (checked as <see cref="SafetensorsReader"/> checks it; no tensor is read).</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        using var reader = new SafetensorsReader(path);
        return new SafetensorsHeader(reader.Entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape)), reader.Metadata);
    }

    /// <summary>Writes tensors (F32, F16, BF16 or I64, any device) with string metadata, atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
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
            byte[] data = ToBytes(tensor, out string dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + data.Length)),
            };
            blobs.Add(data);
            offset += data.Length;
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

    static byte[] ToBytes(Tensor tensor, out string dtype)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        dtype = cpu.dtype switch
        {
            ScalarType.Float32 => "F32",
            ScalarType.Float16 => "F16",
            ScalarType.BFloat16 => "BF16",
            ScalarType.Int64 => "I64",
            _ => throw new NotSupportedException($"safetensors writing supports F32, F16, BF16 and I64, not {cpu.dtype}"),
        };
        return cpu.bytes.ToArray();
    }
}
