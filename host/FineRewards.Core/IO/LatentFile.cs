using System.Globalization;
using FineRewards.Contracts;

namespace FineRewards.Core.IO;

/// <summary>
/// A candidate's latents on disk: one F32 tensor "latents" of shape [C, h, w] in a .safetensors file
/// (what diffusers and ComfyUI read), written atomically. Run folders and the host's storage keep
/// one per generated candidate beside its PNG.
/// </summary>
public static class LatentFile
{
    public const string Extension = ".latents.safetensors";
    const string TensorName = "latents";

    /// <summary>Writes the latents and returns the file's bytes' SHA-256 (for candidates.json).</summary>
    public static string Write(string path, CandidateLatents latents)
    {
        var bytes = new byte[latents.Data.Length * 4];
        Buffer.BlockCopy(latents.Data, 0, bytes, 0, bytes.Length);
        SafetensorsLayout.Write(path,
            new Dictionary<string, RawTensor> { [TensorName] = new("F32", [latents.Channels, latents.Height, latents.Width], bytes) },
            new Dictionary<string, string> { ["finerewards.latents"] = "final sampler latents x vae scaling_factor, [C, h, w]" });
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
    }

    /// <exception cref="InputException">The file is missing, is not a latent file, or its SHA-256 differs from <paramref name="expectedSha256"/>.</exception>
    public static CandidateLatents Read(string path, string? expectedSha256 = null)
    {
        if (!File.Exists(path)) throw new InputException(path, "latent file does not exist");
        if (expectedSha256 is not null)
        {
            string actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
            if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
                throw new InputException(path, $"SHA-256 is {actual}, expected {expectedSha256} (the file changed after it was recorded)");
        }
        try
        {
            var (data, shape) = SafetensorsLayout.ReadFloat32(path, TensorName);
            if (shape.Length != 3) throw new InputException(path, $"latents have shape [{string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}], expected [C, h, w]");
            return CandidateLatents.Create(data, (int)shape[0], (int)shape[1], (int)shape[2]);
        }
        catch (InvalidDataException e)
        {
            throw new InputException(path, e.Message);
        }
    }
}
