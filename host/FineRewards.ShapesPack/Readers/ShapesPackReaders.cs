using FineRewards.Core;
using FineRewards.Contracts;
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

    public void Dispose()
    {
        if (_captioner.IsValueCreated) _captioner.Value.Dispose();
        if (_segmenter.IsValueCreated) _segmenter.Value.Dispose();
        if (_contrastive.IsValueCreated) _contrastive.Value.Dispose();
    }
}
