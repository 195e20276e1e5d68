using FineRewards.Core.Contracts;

namespace FineRewards.Rewards.Onnx;

/// <param name="Everything">Settings of SAM's everything mode.</param>
/// <param name="LabelTemplate">The text CLIP compares each crop with, {0} being the label (CLIP's usual prompt form).</param>
public sealed record OnnxSegmenterOptions(SamEverythingOptions? Everything = null, string LabelTemplate = "a photo of a {0}");

/// <summary>
/// Segments for the segment reward from real images: SAM's everything mode finds the regions, and CLIP labels each one
/// zero-shot over <see cref="SegmentVocabulary.For"/> (the prompt's nouns and the tag list), the label's probability
/// being the segment's confidence. Each image is encoded by SAM once; the crops of all K images go through CLIP in one
/// batch, and the vocabulary's texts are embedded once per prompt.
/// </summary>
public sealed class OnnxSegmenter(OnnxSam sam, OnnxClip clip, SegmentVocabulary vocabulary, OnnxSegmenterOptions? options = null) : IPromptedSegmenter
{
    readonly OnnxSegmenterOptions _options = options ?? new OnnxSegmenterOptions();

    public string Name => $"{sam.Name}+{clip.Name}";

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        Segment("", images, cancellationToken);

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        var everything = _options.Everything ?? new SamEverythingOptions();
        var regions = images.Select(image => SamEverything.Generate(sam, sam.Encode(image), everything, cancellationToken)).ToList();
        if (regions.All(r => r.Count == 0)) return regions.Select(_ => (IReadOnlyList<Segment>)[]).ToList();

        var labels = vocabulary.For(prompt);
        var texts = clip.EmbedTexts(labels.Select(l => string.Format(System.Globalization.CultureInfo.InvariantCulture, _options.LabelTemplate, l)).ToList(), cancellationToken);
        var crops = images.SelectMany((image, i) => regions[i].Select(r => Crop(image, r))).ToList();
        var vectors = clip.EmbedImages(crops, cancellationToken);

        var result = new List<IReadOnlyList<Segment>>(images.Count);
        int at = 0;
        foreach (var list in regions)
        {
            var segments = new List<Segment>(list.Count);
            foreach (var region in list)
            {
                var vector = vectors[at++];
                string label = "unlabelled";
                double confidence = 0;
                if (vector.Length > 0)
                {
                    var p = OnnxClip.ZeroShot(vector, texts, clip.LogitScale);
                    int best = Array.IndexOf(p, p.Max());
                    label = labels[best];
                    confidence = p[best];
                }
                segments.Add(new Segment(label, confidence, region.Box, RunLengthMask.FromBits(region.Width, region.Height, region.Mask)));
            }
            result.Add(segments);
        }
        return result;
    }

    // CLIP's mean colour, so the background of a crop reads as "nothing" rather than as black or white.
    static readonly byte[] Background = [123, 117, 104];

    /// <summary>The region's box cut out of the image, pixels outside the mask set to the background grey.</summary>
    public static RgbImage Crop(RgbImage image, SamRegion region)
    {
        int x0 = (int)region.Box.X, y0 = (int)region.Box.Y, w = (int)region.Box.Width, h = (int)region.Box.Height;
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int source = (y + y0) * image.Width + x + x0, o = (y * w + x) * 3;
                if (region.Mask[source]) Array.Copy(image.Pixels, source * 3, pixels, o, 3);
                else Array.Copy(Background, 0, pixels, o, 3);
            }
        return new RgbImage(w, h, pixels);
    }
}
