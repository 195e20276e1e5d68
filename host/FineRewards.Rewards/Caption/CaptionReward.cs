using FineRewards.Contracts;
using FineRewards.Rewards.Embedders;

namespace FineRewards.Rewards.Caption;

/// <summary>
/// The caption reward (paper eq. 4): caption each image, then R = cos(embed(caption), embed(prompt)).
/// A captioner that sees what the prompt asked for writes a caption close to the prompt.
/// </summary>
public sealed class CaptionReward(ICaptioner captioner, ITextEmbedder embedder) : IReward
{
    public string Name => "caption";
    public string Version => $"caption-v1+{captioner.Name}+{embedder.Name}";

    public IReadOnlyList<RewardScore> Score(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        // All K candidates in one captioner batch and one embedder call (prompt first).
        var captions = captioner.Caption(images, cancellationToken);
        if (captions.Count != images.Count)
            throw new InvalidOperationException($"captioner {captioner.Name} returned {captions.Count} captions for {images.Count} images");
        var vectors = embedder.Embed([prompt, .. captions], cancellationToken);

        var details = new Dictionary<string, string> { ["captioner"] = captioner.Name, ["embedder"] = embedder.Name };
        var scores = new List<RewardScore>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            double cosine = Embeddings.Cosine(vectors[0], vectors[i + 1]);
            var flags = string.IsNullOrWhiteSpace(captions[i]) ? new[] { "empty-caption" } : null;
            scores.Add(new RewardScore(Name, cosine, new RewardEvidence(Caption: captions[i], Flags: flags, Details: details)));
        }
        return scores;
    }
}
