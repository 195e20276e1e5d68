using System.Globalization;
using System.Text.RegularExpressions;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// The LAION aesthetic predictor: linear layers without activations (v2's MLP 768-1024-128-64-16-1, whose dropouts
/// vanish at inference, or v1's single linear layer) on the unit-length CLIP image embedding, predicting a 1..10
/// rating. Weights from a safetensors file holding <c>[layers.]N.weight</c> [out,in] and <c>.bias</c> [out], applied in
/// order of N (the released .pth state dicts, saved as safetensors: see docs/models.md).
/// </summary>
public sealed partial class AestheticHead
{
    readonly List<(float[] Weight, float[] Bias, int In, int Out)> _layers = [];

    public string Path { get; }
    public int InputDimension => _layers[0].In;

    [GeneratedRegex(@"^(?:.*?)(\d*)\.?weight$")]
    private static partial Regex WeightKey();

    public AestheticHead(string path)
    {
        Path = path;
        var tensors = SafetensorsLayout.ReadAll(path).Tensors;
        var weights = tensors.Keys.Where(k => k.EndsWith("weight", StringComparison.Ordinal))
            .OrderBy(k => WeightKey().Match(k).Groups[1].Value is { Length: > 0 } d ? int.Parse(d, CultureInfo.InvariantCulture) : 0).ToList();
        if (weights.Count == 0) throw new InputException(path, "no linear layer weights (expected keys like layers.0.weight, layers.0.bias)");
        foreach (var key in weights)
        {
            var w = tensors[key];
            if (w.Shape.Length != 2) throw new InputException(path, $"{key} has shape [{string.Join(",", w.Shape)}], expected [out,in]");
            string biasKey = key[..^"weight".Length] + "bias";
            if (!tensors.TryGetValue(biasKey, out var b) || b.Shape.Length != 1 || b.Shape[0] != w.Shape[0])
                throw new InputException(path, $"{biasKey} missing or not [{w.Shape[0]}]");
            int inDim = (int)w.Shape[1], outDim = (int)w.Shape[0];
            if (_layers.Count > 0 && _layers[^1].Out != inDim)
                throw new InputException(path, $"{key} takes {inDim} inputs but the layer before gives {_layers[^1].Out}");
            _layers.Add((w.Floats(), b.Floats(), inDim, outDim));
        }
        if (_layers[^1].Out != 1) throw new InputException(path, $"the last layer gives {_layers[^1].Out} values, expected 1 (the rating)");
    }

    /// <summary>The rating of a unit-length image embedding.</summary>
    public double Rate(ReadOnlySpan<float> embedding)
    {
        if (embedding.Length != InputDimension)
            throw new InvalidOperationException($"{Path} takes {InputDimension}-dimensional CLIP embeddings, got {embedding.Length} (a head for another CLIP size?)");
        var x = embedding.ToArray().Select(v => (double)v).ToArray();
        foreach (var (weight, bias, inDim, outDim) in _layers)
        {
            var y = new double[outDim];
            for (int o = 0; o < outDim; o++)
            {
                double sum = bias[o];
                for (int i = 0; i < inDim; i++) sum += weight[o * inDim + i] * x[i];
                y[o] = sum;
            }
            x = y;
        }
        return x[0];
    }
}

/// <summary>The `aesthetic` baseline: the LAION aesthetic head's rating of each image's CLIP embedding (prompt-blind).</summary>
public sealed class AestheticReward(IImageTextEmbedder clip, AestheticHead head) : IReward
{
    public string Name => "aesthetic";
    public string Version => $"aesthetic-v1+{clip.Name}+{System.IO.Path.GetFileName(head.Path)}";

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        var vectors = clip.EmbedImages(images, cancellationToken);
        var details = new Dictionary<string, string> { ["model"] = clip.Name, ["head"] = head.Path };
        return vectors.Select(v => v.Length == 0
            ? new RewardScore(Name, 0, new RewardEvidence(Flags: ["image-failed"], Details: details))
            : new RewardScore(Name, head.Rate(v), new RewardEvidence(Details: details))).ToList();
    }
}
