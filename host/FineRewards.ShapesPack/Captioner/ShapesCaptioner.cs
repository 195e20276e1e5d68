using FineRewards.Contracts;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Captioner;

/// <summary>The Shapes pack's captioner (the BLIP-2 stand-in) behind <see cref="ICaptioner"/>: greedy decoding, batched.</summary>
public sealed class ShapesCaptioner : ICaptioner, IDisposable
{
    public const string Component = "captioner";
    readonly ShapesCaptionerModel _model;
    readonly CaptionVocabulary _vocabulary;
    readonly object _lock = new();

    public string Name => "shapes-captioner";
    public ShapesCaptionerModel Model => _model;

    public ShapesCaptioner(ShapesCaptionerModel model)
    {
        _model = model;
        _vocabulary = new CaptionVocabulary(model.Config.Vocabulary);
        _model.eval();
    }

    /// <summary>Loads <c>captioner/</c> (config.json, model.safetensors) of a pack folder.</summary>
    public static ShapesCaptioner Load(string packFolder)
    {
        string folder = Path.Combine(packFolder, Component);
        var model = new ShapesCaptionerModel(ReaderTraining.LoadConfig<ShapesCaptionerConfig>(folder));
        ReaderTraining.LoadWeights(model, folder);
        return new ShapesCaptioner(model);
    }

    public IReadOnlyList<string> Caption(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)   // TorchSharp modules are not safe to run from two threads at once
        {
            var ids = Nn.NativeCalls.Run(() =>
            {
                using var scope = NewDisposeScope();
                return _model.Greedy(ImageTensors.FromImages(images));
            });
            return ids.Select(row => _vocabulary.Decode(row)).ToList();
        }
    }

    public void Dispose() => _model.Dispose();
}
