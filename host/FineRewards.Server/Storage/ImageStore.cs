using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Server.Storage;

/// <summary>
/// PNG files under {data}/images/ab/abcdef....png, named by the SHA-256 of their bytes, so the same
/// image is stored once and a client can ask whether the host has it before uploading. A generated
/// image also keeps the latents it was decoded from beside it ({id}.latents.safetensors), so training
/// on it learns the candidate exactly rather than a lossy re-encoding.
/// </summary>
public sealed class ImageStore
{
    public string Folder { get; }

    public ImageStore(string folder)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
    }

    public static string IdOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>A lowercase 64-digit hex string; anything else could escape the folder.</summary>
    public static bool IsValidId(string id) =>
        id.Length == 64 && id.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    public static void RequireValidId(string id, string field)
    {
        if (!IsValidId(id)) throw new InputException(field, $"\"{Truncate(id)}\" is not an image id (64 lowercase hex digits, the SHA-256 of the PNG)");
    }

    public string PathOf(string id) => Path.Combine(Folder, id[..2], id + ".png");

    public bool Has(string id) => IsValidId(id) && File.Exists(PathOf(id));

    /// <summary>Stores the bytes under their hash; returns the id and whether it was there already.</summary>
    public (string Id, bool Existing) Put(ReadOnlySpan<byte> png)
    {
        string id = IdOf(png);
        string path = PathOf(id);
        if (File.Exists(path)) return (id, true);
        AtomicFile.WriteAllBytes(path, png);
        return (id, false);
    }

    public string LatentsPathOf(string id) => Path.Combine(Folder, id[..2], id + LatentFile.Extension);

    /// <summary>Keeps the latents image <paramref name="id"/> was decoded from (written atomically; the first stored wins).</summary>
    public void PutLatents(string id, Contracts.CandidateLatents latents)
    {
        RequireValidId(id, "image_id");
        string path = LatentsPathOf(id);
        if (!File.Exists(path)) LatentFile.Write(path, latents);
    }

    /// <summary>The latents image <paramref name="id"/> was decoded from, or null for an image that came from outside.</summary>
    public Contracts.CandidateLatents? LatentsOf(string id) =>
        IsValidId(id) && File.Exists(LatentsPathOf(id)) ? LatentFile.Read(LatentsPathOf(id)) : null;

    /// <summary>Opens the image for reading, or null when the host does not have it.</summary>
    public FileStream? Open(string id) =>
        Has(id) ? new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read) : null;

    static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
