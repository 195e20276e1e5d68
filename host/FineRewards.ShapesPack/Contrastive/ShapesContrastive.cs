using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Tokenizer;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Contrastive;

/// <summary>
/// The Shapes pack's contrastive model behind the reward interfaces: <see cref="IImageTextEmbedder"/>
/// for the CLIP-score baseline and <see cref="ITextEmbedder"/> (text tower only) for the caption reward.
/// </summary>
public sealed class ShapesContrastive : IImageTextEmbedder, ITextEmbedder, IDisposable
{
    public const string Component = "contrastive";
    readonly ShapesContrastiveModel _model;
    readonly ClipTokenizer _tokenizer;
    readonly object _lock = new();

    public string Name => "shapes-clip";
    public int Dimension => _model.Config.ProjectionDim;
    public ShapesContrastiveModel Model => _model;
    public ClipTokenizer Tokenizer => _tokenizer;

    public ShapesContrastive(ShapesContrastiveModel model, ClipTokenizer tokenizer)
    {
        _model = model;
        _tokenizer = tokenizer;
        _model.eval();
    }

    public static ShapesContrastive Load(string packFolder)
    {
        string folder = Path.Combine(packFolder, Component);
        var model = new ShapesContrastiveModel(ReaderTraining.LoadConfig<ShapesContrastiveConfig>(folder));
        ReaderTraining.LoadWeights(model, folder);
        return new ShapesContrastive(model, LoadTokenizer(folder, model.Config));
    }

    public static ClipTokenizer LoadTokenizer(string componentFolder, ShapesContrastiveConfig config)
    {
        string tokenizer = Path.Combine(componentFolder, "tokenizer");
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            if (!File.Exists(Path.Combine(tokenizer, file))) throw new InputException(Path.Combine(tokenizer, file), "contrastive tokenizer file not found");
        return ClipTokenizer.FromFiles(Path.Combine(tokenizer, "vocab.json"), Path.Combine(tokenizer, "merges.txt"), modelMaxLength: config.Text.MaxPositionEmbeddings);
    }

    /// <summary>input_ids [B, L] for texts (BOS, tokens, EOS, EOS padding).</summary>
    public Tensor Tokenize(IReadOnlyList<string> texts) => _tokenizer.EncodeBatch(texts);

    public IReadOnlyList<float[]> EmbedImages(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Nn.NativeCalls.Run(() =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                return Rows(_model.EncodeImages(ImageTensors.FromImages(images)));
            });
        }
    }

    public IReadOnlyList<float[]> EmbedTexts(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        if (texts.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Nn.NativeCalls.Run(() =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                return Rows(_model.EncodeTexts(Tokenize(texts.Select(t => t.Trim().ToLowerInvariant()).ToList())));
            });
        }
    }

    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken = default) => EmbedTexts(texts, cancellationToken);

    static List<float[]> Rows(Tensor t)
    {
        long n = t.shape[0], d = t.shape[1];
        var data = t.contiguous().data<float>().ToArray();
        return Enumerable.Range(0, (int)n).Select(i => data.AsSpan((int)(i * d), (int)d).ToArray()).ToList();
    }

    public void Dispose() => _model.Dispose();
}
