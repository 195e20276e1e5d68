using FineRewards.Contracts;

namespace FineRewards.Rewards.Onnx;

/// <param name="Everything">Settings of SAM's everything mode.</param>
/// <param name="LabelTemplate">The text CLIP compares each crop with, {0} being the label (CLIP's usual prompt form).</param>
/// <param name="DuplicateIou">Mask IoU at or above which a grid segment repeats a detector segment (or a lower-scored detector segment a better one) and is dropped.</param>
public sealed record OnnxSegmenterOptions(SamEverythingOptions? Everything = null, string LabelTemplate = "a photo of a {0}", double DuplicateIou = 0.7);

/// <summary>
/// Segments for the segment reward from real images: SAM's everything mode finds the regions, and CLIP labels each one
/// zero-shot over <see cref="SegmentVocabulary.For"/> (the prompt's nouns and the tag list), the label's probability
/// being the segment's confidence. With a detector, the prompt's nouns are also looked for directly: each box becomes a
/// SAM box prompt whose mask is labelled by its query with the detector's score as confidence, and grid segments that
/// repeat one are dropped. Each image is encoded by SAM once; the crops of all K images go through CLIP in one batch,
/// and the vocabulary's texts are embedded once per prompt.
/// </summary>
public sealed class OnnxSegmenter(OnnxSam sam, OnnxClip clip, SegmentVocabulary vocabulary, OnnxSegmenterOptions? options = null, OnnxOwlDetector? detector = null) : IPromptedSegmenter
{
    public const string GridSource = "grid";
    public const string DetectorSource = "detector";

    readonly OnnxSegmenterOptions _options = options ?? new OnnxSegmenterOptions();

    public string Name => detector is null ? $"{sam.Name}+{clip.Name}" : $"{sam.Name}+{clip.Name}+{detector.Name}";

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        Segment("", images, cancellationToken);

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        var everything = _options.Everything ?? new SamEverythingOptions();
        var nouns = detector is null ? [] : SegmentVocabulary.PromptNouns(prompt);
        var detected = new List<List<(SamRegion Region, Detection Detection)>>(images.Count);
        var regions = new List<IReadOnlyList<SamRegion>>(images.Count);
        foreach (var image in images)
        {
            var embedding = sam.Encode(image);
            var boxed = nouns.Count == 0 ? [] : BoxPrompts(embedding, detector!.Detect(image, nouns, cancellationToken));
            detected.Add(boxed);
            regions.Add(WithoutDuplicates(boxed.Select(b => b.Region).ToList(), SamEverything.Generate(sam, embedding, everything, cancellationToken), _options.DuplicateIou));
        }
        var result = new List<IReadOnlyList<Segment>>(images.Count);
        if (regions.All(r => r.Count == 0))
        {
            result.AddRange(detected.Select(d => (IReadOnlyList<Segment>)d.Select(b => DetectorSegment(b.Region, b.Detection)).ToList()));
            return result;
        }

        var labels = vocabulary.For(prompt);
        var texts = clip.EmbedTexts(labels.Select(l => string.Format(System.Globalization.CultureInfo.InvariantCulture, _options.LabelTemplate, l)).ToList(), cancellationToken);
        var crops = images.SelectMany((image, i) => regions[i].Select(r => Crop(image, r))).ToList();
        var vectors = clip.EmbedImages(crops, cancellationToken);

        int at = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var segments = detected[i].Select(b => DetectorSegment(b.Region, b.Detection)).ToList();
            foreach (var region in regions[i])
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
                segments.Add(new Segment(label, confidence, region.Box, RunLengthMask.FromBits(region.Width, region.Height, region.Mask), GridSource));
            }
            result.Add(segments);
        }
        return result;
    }

    static Segment DetectorSegment(SamRegion region, Detection detection) =>
        new(detection.Query, detection.Score, region.Box, RunLengthMask.FromBits(region.Width, region.Height, region.Mask), DetectorSource);

    /// <summary>
    /// Each detection's box as a SAM box prompt (corners labelled 2 and 3); a box whose mask is empty is dropped, and
    /// a mask repeating a better-scored detection's (mask IoU at or above <see cref="OnnxSegmenterOptions.DuplicateIou"/>) too.
    /// </summary>
    public List<(SamRegion Region, Detection Detection)> BoxPrompts(SamEmbedding embedding, IReadOnlyList<Detection> detections)
    {
        var kept = new List<(SamRegion Region, Detection Detection)>();
        foreach (var d in detections.OrderByDescending(d => d.Score))
        {
            SamPoint[] box = [new((float)d.Box.X, (float)d.Box.Y, 2), new((float)(d.Box.X + d.Box.Width), (float)(d.Box.Y + d.Box.Height), 3)];
            // No predicted-IoU or stability filter: the box already says there is an object; only an empty mask is useless.
            var region = sam.Decode(embedding, box, (logits, iou) => SamEverything.Measure(logits, embedding.Width, embedding.Height, iou, 1.0, 0));
            if (region is not null && kept.All(k => MaskIou(k.Region, region) < _options.DuplicateIou)) kept.Add((region, d));
        }
        return kept;
    }

    /// <summary>The grid regions that do not repeat a detector region.</summary>
    public static IReadOnlyList<SamRegion> WithoutDuplicates(IReadOnlyList<SamRegion> detected, IReadOnlyList<SamRegion> grid, double duplicateIou) =>
        detected.Count == 0 ? grid : grid.Where(g => detected.All(d => MaskIou(d, g) < duplicateIou)).ToList();

    /// <summary>Intersection over union of two masks of the same image.</summary>
    public static double MaskIou(SamRegion a, SamRegion b)
    {
        int both = 0;
        for (int i = 0; i < a.Mask.Length; i++) if (a.Mask[i] && b.Mask[i]) both++;
        int union = a.Area + b.Area - both;
        return union == 0 ? 0 : (double)both / union;
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
