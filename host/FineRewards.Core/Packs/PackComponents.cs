using System.Text.Json;
using FineRewards.Contracts;

namespace FineRewards.Core.Packs;

/// <summary>One component of a pack folder with its path resolved against the folder.</summary>
public sealed record ResolvedComponent(string Name, string Kind, string Path, bool Exists);

/// <summary>
/// The one reader of a pack.json's components: each names a kind and a path, relative to the pack folder
/// or absolute (a user's checkpoint is referenced, never copied), and an optional config.
/// </summary>
public class PackComponents(string folder, PackManifest manifest)
{
    public string Folder { get; } = folder;
    public PackManifest Manifest { get; } = manifest;
    public string ManifestPath => System.IO.Path.Combine(Folder, PackManifest.FileName);

    public static PackComponents Load(string folder) => new(folder, PackManifest.Load(System.IO.Path.Combine(folder, PackManifest.FileName)));

    public PackComponent? Component(string name) => Manifest.Components?.GetValueOrDefault(name);

    /// <summary>The resolved path of component <paramref name="name"/>, or null when the pack has none.</summary>
    /// <exception cref="InputException">It exists with another kind.</exception>
    public string? ComponentPath(string name, string kind)
    {
        if (Component(name) is not PackComponent component) return null;
        if (component.Kind != kind)
            throw new InputException($"{ManifestPath}: components.{name}.kind", $"is \"{component.Kind}\", expected \"{kind}\"");
        return Resolve(Folder, component.Path);
    }

    public string Require(string name, string kind, string forWhat) =>
        ComponentPath(name, kind) ?? throw new InputException("--pack", $"pack \"{Manifest.Name}\" ({Folder}) has no \"{name}\" component ({kind}), which {forWhat} needs");

    public JsonElement? Config(string name) => Component(name)?.Config;

    /// <summary>Every component with its path resolved and whether it is on disk.</summary>
    public IReadOnlyList<ResolvedComponent> All() =>
        (Manifest.Components ?? new Dictionary<string, PackComponent>())
        .Select(c =>
        {
            string path = Resolve(Folder, c.Value.Path);
            return new ResolvedComponent(c.Key, c.Value.Kind, path, File.Exists(path) || Directory.Exists(path));
        }).ToList();

    public static string Resolve(string folder, string path) =>
        System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(folder, path));

    /// <summary>How pack.json stores a path: relative (forward slashes) when inside the pack folder, else absolute.</summary>
    public static string Stored(string folder, string path)
    {
        string full = System.IO.Path.GetFullPath(path), root = System.IO.Path.GetFullPath(folder).TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar;
        return full.StartsWith(root, StringComparison.Ordinal) ? System.IO.Path.GetRelativePath(root, full).Replace('\\', '/') : full;
    }
}
