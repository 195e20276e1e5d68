using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Contrastive;
using FineRewards.ShapesPack.Segmenter;

namespace FineRewards.ShapesPack.Readers;

/// <summary>
/// The reader models of a Shapes pack folder (captioner, segmenter, contrastive model), each loaded on
/// first use and then kept: a scoring session creates them once and reuses them for every batch.
/// </summary>
public sealed class ShapesPackReaders : IDisposable
{
    readonly Lazy<ShapesCaptioner> _captioner;
    readonly Lazy<ShapesSegmenter> _segmenter;
    readonly Lazy<ShapesContrastive> _contrastive;

    public string Folder { get; }

    public ShapesPackReaders(string packFolder)
    {
        if (!Directory.Exists(packFolder)) throw new InputException("--pack", $"pack folder {packFolder} does not exist");
        Folder = packFolder;
        _captioner = new(() => ShapesCaptioner.Load(packFolder));
        _segmenter = new(() => ShapesSegmenter.Load(packFolder));
        _contrastive = new(() => ShapesContrastive.Load(packFolder));
    }

    public ShapesCaptioner Captioner => _captioner.Value;
    public ShapesSegmenter Segmenter => _segmenter.Value;
    public ShapesContrastive Contrastive => _contrastive.Value;

    /// <summary>
    /// The folder of the pack called <paramref name="nameOrPath"/>: a folder holding pack.json, else a pack of
    /// that name found by <see cref="PackLocator.Default"/> (next to the executable, $FINEREWARDS_PACKS, user data),
    /// else for "shapes" the checkout's packs/shapes.
    /// </summary>
    public static string Locate(string nameOrPath)
    {
        if (File.Exists(Path.Combine(nameOrPath, PackManifest.FileName))) return Path.GetFullPath(nameOrPath);
        var status = PackLocator.Default().Find(nameOrPath);
        if (status.Manifest is not null) return status.Folder;
        if (nameOrPath == ShapesPackInfo.Name && ShapesPackInfo.SourceFolder() is string source && File.Exists(Path.Combine(source, PackManifest.FileName)))
            return source;
        throw new InputException("--pack", $"no pack \"{nameOrPath}\" found (looked in {string.Join(", ", PackLocator.Default().SearchRoots)}); give a pack name or a folder with pack.json");
    }

    public void Dispose()
    {
        if (_captioner.IsValueCreated) _captioner.Value.Dispose();
        if (_segmenter.IsValueCreated) _segmenter.Value.Dispose();
        if (_contrastive.IsValueCreated) _contrastive.Value.Dispose();
    }
}
