using FineRewards.Core.IO;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.IO;

/// <summary>
/// Reads headers and writes whole files in the safetensors layout (<see cref="SafetensorsLayout"/>)
/// from TorchSharp tensors.
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
        var raw = tensors.ToDictionary(t => t.Key, t =>
        {
            byte[] data = ToBytes(t.Value, out string dtype);
            return new RawTensor(dtype, t.Value.shape, data);
        });
        SafetensorsLayout.Write(path, raw, metadata);
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
