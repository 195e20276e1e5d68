using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Server.Training;

/// <summary>
/// What a client may name in <c>LoraWeight.name</c>: a registered LoRA (its id) or a .safetensors file
/// inside the host's LoRA folder ({data}/loras), by a path relative to it or absolute. Anything else
/// (a path elsewhere, "..", a symbolic link that leads out of the folder) is refused before the job is
/// queued, and the refusal is the same whether such a file exists or not, so a client learns nothing
/// about the host's other files.
/// </summary>
public static class LoraNames
{
    public const string Extension = ".safetensors";

    /// <param name="registered">The file of a registered LoRA id, or null.</param>
    public static IReadOnlyList<LoraReference> Resolve(IReadOnlyList<LoraReference> loras, string folder, Func<string, string?> registered) =>
        loras.Select((l, i) => l with { Path = ResolveOne(l.Path, folder, registered, $"loras[{i}].name") }).ToList();

    static string ResolveOne(string name, string folder, Func<string, string?> registered, string field)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new InputException(field, "empty; name a registered LoRA id or a file in the host's LoRA folder");
        if (Guid.TryParse(name, out var id) && registered(id.ToString("D")) is { } path) return path;

        string shown = name.Length <= 80 ? name : name[..80] + "...";
        var refused = new InputException(field,
            $"\"{shown}\" is not a LoRA of this host: name a registered LoRA by its id (ListLoras) or a {Extension} file inside the host's LoRA folder (loras/ in its data directory)");
        if (name.Contains('\0') || !name.EndsWith(Extension, StringComparison.OrdinalIgnoreCase)) throw refused;
        if (name.Replace('\\', '/').Split('/').Contains("..")) throw refused;

        string root = RealPath(folder);
        string candidate = Path.IsPathRooted(name) ? name : Path.Combine(folder, name);
        string real = RealPath(candidate);
        if (!real.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(real)) throw refused;
        return real;
    }

    /// <summary>The path with every symbolic link on the way replaced by what it finally points to (realpath).</summary>
    internal static string RealPath(string path, int depth = 0)
    {
        if (depth > 40) throw new IOException($"too many levels of symbolic links at {path}");
        string full = Path.GetFullPath(path);
        string current = Path.GetPathRoot(full)!;
        foreach (string part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            var info = new FileInfo(current);
            if (info.LinkTarget is null) continue;
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            // A dangling link leads nowhere: keep it, File.Exists refuses it.
            if (target is not null) current = RealPath(target.FullName, depth + 1);
        }
        return current;
    }
}
