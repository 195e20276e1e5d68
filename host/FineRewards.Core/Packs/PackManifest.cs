using System.Security.Cryptography;
using FineRewards.Contracts;
using FineRewards.Contracts.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FineRewards.Core.Packs;

/// <summary>One file of a model pack, checked by size and SHA-256.</summary>
public sealed record PackFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>How a component was trained, so anyone can reproduce it and see how good it was.</summary>
/// <param name="Command">The command line that produced it, e.g. "finerewards pack train shapes --component vae".</param>
/// <param name="DataSeed">Seed of the generated training data.</param>
/// <param name="Metrics">Measured at the end of training (loss, accuracy per task, ...).</param>
public sealed record PackTraining(
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("data_seed")] long DataSeed,
    [property: JsonPropertyName("steps")] long Steps,
    [property: JsonPropertyName("minutes")] double Minutes,
    [property: JsonPropertyName("finished_utc")] string FinishedUtc,
    [property: JsonPropertyName("metrics")] IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>One model of a pack (the diffusion model, a captioner, ...): where it is and how it was made.</summary>
/// <param name="Kind">What it is for: "diffusers" (a diffusers folder), "captioner", "segmenter", "contrastive".</param>
/// <param name="Path">Folder or file relative to the pack folder.</param>
/// <param name="Config">The model's configuration as written at training time.</param>
public sealed record PackComponent(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("config")] JsonElement? Config = null,
    [property: JsonPropertyName("training")] PackTraining? Training = null);

/// <summary>
/// `pack.json`: what a model pack contains and how it was made. The same manifest describes the
/// built-in Shapes pack and a user's pack of real checkpoints.
/// </summary>
public sealed record PackManifest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("files")] IReadOnlyList<PackFile> Files,
    [property: JsonPropertyName("components")] IReadOnlyDictionary<string, PackComponent>? Components = null)
{
    public const string FileName = "pack.json";

    static readonly JsonSerializerOptions WriteOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// Records (or replaces) one component in <paramref name="folder"/>/pack.json and re-lists every
    /// file under the folder with its size and SHA-256, so the manifest always matches the disk.
    /// Trainers call this after writing their weights; several trainers can fill one pack.
    /// </summary>
    public static PackManifest UpdateComponent(string folder, string packName, string componentName, PackComponent component, string? description = null)
    {
        string path = System.IO.Path.Combine(folder, FileName);
        var existing = File.Exists(path) ? Load(path) : new PackManifest(packName, "1", description, []);
        var components = new SortedDictionary<string, PackComponent>(
            (existing.Components ?? new Dictionary<string, PackComponent>()).ToDictionary(), StringComparer.Ordinal)
        { [componentName] = component };
        var manifest = existing with { Description = description ?? existing.Description, Files = ListFiles(folder), Components = components };
        Contracts.IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(manifest, WriteOptions));
        return manifest;
    }

    /// <summary>Every file under the folder except pack.json, with forward-slash relative paths, sorted.</summary>
    public static IReadOnlyList<PackFile> ListFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => System.IO.Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(r => r != FileName && !r.EndsWith(".tmp", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(r =>
            {
                string full = System.IO.Path.Combine(folder, r);
                using var stream = File.OpenRead(full);
                return new PackFile(r, Convert.ToHexStringLower(SHA256.HashData(stream)), new FileInfo(full).Length);
            }).ToList();

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
/// <param name="Fix">What a user can do about the problems, where the pack knows.</param>
public sealed record PackStatus(string Name, string Folder, PackManifest? Manifest, IReadOnlyList<string> Problems, string? Fix = null)
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

    /// <summary>The folder of <paramref name="nameOrPath"/>: a folder holding pack.json, else the pack of that name under the roots.</summary>
    /// <exception cref="InputException">Neither (named <paramref name="field"/>, with the roots looked in).</exception>
    public string Locate(string nameOrPath, string field = "--pack")
    {
        if (File.Exists(Path.Combine(nameOrPath, PackManifest.FileName))) return Path.GetFullPath(nameOrPath);
        var status = Find(nameOrPath);
        return status.Manifest is not null ? status.Folder
            : throw new InputException(field, $"no pack \"{nameOrPath}\" found (looked in {string.Join(", ", SearchRoots)}); give a pack name or a folder with pack.json");
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
