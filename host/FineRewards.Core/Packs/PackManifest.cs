using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FineRewards.Core.Packs;

/// <summary>One file of a model pack, checked by size and SHA-256.</summary>
public sealed record PackFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>
/// `pack.json`: what a model pack contains and how it was made. The same manifest describes the
/// built-in Shapes pack and a user's pack of real checkpoints.
/// </summary>
public sealed record PackManifest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("files")] IReadOnlyList<PackFile> Files)
{
    public const string FileName = "pack.json";

    public static PackManifest Load(string path)
    {
        PackManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<PackManifest>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not a valid pack manifest ({e.Message})");
        }
        if (manifest is null || string.IsNullOrWhiteSpace(manifest.Name))
            throw new InputException(path, "pack manifest needs a \"name\"");
        if (manifest.Files is null) throw new InputException(path, "pack manifest needs a \"files\" array");
        return manifest;
    }
}

/// <summary>The state of one pack folder: which of its files are missing or damaged.</summary>
public sealed record PackStatus(string Name, string Folder, PackManifest? Manifest, IReadOnlyList<string> Problems)
{
    public bool Ready => Manifest is not null && Problems.Count == 0;
}

/// <summary>Finds model packs: folders holding a pack.json, under a list of search roots.</summary>
public sealed class PackLocator
{
    public const string EnvironmentVariable = "FINEREWARDS_PACKS";
    public IReadOnlyList<string> SearchRoots { get; }

    public PackLocator(IReadOnlyList<string> searchRoots) => SearchRoots = searchRoots;

    /// <summary>
    /// The roots in priority order: $FINEREWARDS_PACKS (path-separated), the packs/ folder next
    /// to the executable (where the built-in pack is copied), and the user's data folder.
    /// </summary>
    public static PackLocator Default()
    {
        var roots = new List<string>();
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) roots.AddRange(env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        roots.Add(Path.Combine(AppContext.BaseDirectory, "packs"));
        roots.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "finerewards", "packs"));
        return new PackLocator(roots);
    }

    /// <summary>Every pack found, first root wins when two roots hold the same name.</summary>
    public IReadOnlyList<PackStatus> FindAll(bool verifyHashes = false)
    {
        var found = new Dictionary<string, PackStatus>(StringComparer.Ordinal);
        foreach (string root in SearchRoots)
        {
            if (!Directory.Exists(root)) continue;
            foreach (string folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                if (!File.Exists(Path.Combine(folder, PackManifest.FileName))) continue;
                var status = Check(folder, verifyHashes);
                found.TryAdd(status.Name, status);
            }
        }
        return found.Values.ToList();
    }

    /// <summary>The named pack, or a status that says where it was looked for.</summary>
    public PackStatus Find(string name, bool verifyHashes = false)
    {
        foreach (string root in SearchRoots)
        {
            string folder = Path.Combine(root, name);
            if (File.Exists(Path.Combine(folder, PackManifest.FileName))) return Check(folder, verifyHashes);
        }
        return new PackStatus(name, "", null,
            new[] { $"no {PackManifest.FileName} for pack \"{name}\" in any of: {string.Join(", ", SearchRoots.Select(r => Path.Combine(r, name)))}" });
    }

    public static PackStatus Check(string folder, bool verifyHashes)
    {
        PackManifest manifest;
        try
        {
            manifest = PackManifest.Load(Path.Combine(folder, PackManifest.FileName));
        }
        catch (Exception e) when (e is InputException or IOException)
        {
            return new PackStatus(Path.GetFileName(folder), folder, null, new[] { e.Message });
        }
        var problems = new List<string>();
        foreach (var file in manifest.Files)
        {
            string path = Path.Combine(folder, file.Path);
            if (!File.Exists(path)) { problems.Add($"missing {path}"); continue; }
            long length = new FileInfo(path).Length;
            if (length != file.Bytes) { problems.Add($"{path}: {length} bytes, manifest says {file.Bytes}"); continue; }
            if (verifyHashes)
            {
                using var stream = File.OpenRead(path);
                string sha = Convert.ToHexStringLower(SHA256.HashData(stream));
                if (!sha.Equals(file.Sha256, StringComparison.OrdinalIgnoreCase))
                    problems.Add($"{path}: sha256 {sha}, manifest says {file.Sha256}");
            }
        }
        return new PackStatus(manifest.Name, folder, manifest, problems);
    }
}
