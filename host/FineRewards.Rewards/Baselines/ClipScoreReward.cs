using FineRewards.Contracts;
using FineRewards.Rewards.Embedders;

namespace FineRewards.Rewards.Baselines;

/// <summary>
/// CLIPScore (Hessel et al. 2021): w * max(cos(image, prompt), 0) with w = 2.5, the usual baseline the
/// paper compares with. With <c>weight: null</c> the score is the raw cosine (what the ONNX packs report as
/// `clip`, comparable with other CLIP tools). The raw cosine is kept in the evidence. An image the model failed
/// on (an empty embedding) gets the lowest score, flagged "image-failed"; the others keep theirs.
/// </summary>
public sealed class ClipScoreReward(IImageTextEmbedder model, double? weight = 2.5) : IReward
{
    public string Name => "clipscore";
    public string Version => weight is double w
        ? $"clipscore-v1+{model.Name}+w{w.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
        : $"clipscore-v1+{model.Name}+cosine";

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        var text = model.EmbedTexts([prompt], cancellationToken)[0];
        var pictures = model.EmbedImages(images, cancellationToken);
        if (pictures.Count != images.Count)
            throw new InvalidOperationException($"{model.Name} returned {pictures.Count} image embeddings for {images.Count} images");
        var scores = new List<RewardScore>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var details = new Dictionary<string, string> { ["model"] = model.Name };
            if (pictures[i].Length == 0)
            {
                scores.Add(new RewardScore(Name, weight is null ? -1 : 0, new RewardEvidence(Flags: ["image-failed"], Details: details)));
                continue;
            }
            double cosine = Embeddings.Cosine(pictures[i], text);
            details["cosine"] = cosine.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            scores.Add(new RewardScore(Name, weight is double w ? w * Math.Max(cosine, 0) : cosine, new RewardEvidence(Details: details)));
        }
        return scores;
    }
}
