using System.Buffers.Binary;
using System.Text;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Rewards.Baselines;
using FineRewards.Rewards.Embedders;
using FineRewards.Rewards.Onnx;
using FineRewards.Rewards.Segments;
using FineRewards.Rewards.Tests.Rewards;

namespace FineRewards.Rewards.Tests.Onnx;

public sealed class SegmentationTests
{
    static int[] NoTokens(string text, int length) => Enumerable.Range(0, length).Select(i => i == 0 ? 49406 : i == 1 ? 49407 : 0).ToArray();

    /// <summary>A cheap tokenizer for tests: BOS, one id per word from a hash, EOS (CLIP's real tokenizer is tested in the host).</summary>
    static int[] HashTokens(string text, int length)
    {
        var ids = new int[length];
        ids[0] = 49406;
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(length - 2).ToArray();
        for (int i = 0; i < words.Length; i++) ids[1 + i] = (int)((uint)words[i].GetHashCode() % 49000) + 1;
        ids[1 + words.Length] = 49407;
        return ids;
    }

    // The fixture's weights are random: its predicted IoUs and stabilities mean nothing, so the filters are opened
    // and the test checks the machinery (grid, NMS, boxes, masks, labels), not the quality of the masks.
    static readonly SamEverythingOptions Open = new(PointsPerSide: 4, PredIouThresh: double.NegativeInfinity, StabilityScoreThresh: 0, BoxNmsThresh: 0.7);

    [Fact]
    public void Everything_mode_keeps_non_overlapping_masks_with_their_boxes()
    {
        using var sam = new OnnxSam(new OnnxSamOptions(Reference.Sam));
        var image = Reference.Image(3);
        var regions = SamEverything.Generate(sam, sam.Encode(image), Open);
        Assert.NotEmpty(regions);
        Assert.True(regions.Count <= 16);
        foreach (var r in regions)
        {
            Assert.Equal(image.Width * image.Height, r.Mask.Length);
            Assert.Equal(r.Mask.Count(b => b), r.Area);
            // The box is the tight box of the mask.
            var xs = Enumerable.Range(0, r.Mask.Length).Where(i => r.Mask[i]).Select(i => i % image.Width).ToList();
            var ys = Enumerable.Range(0, r.Mask.Length).Where(i => r.Mask[i]).Select(i => i / image.Width).ToList();
            Assert.Equal(new Box(xs.Min(), ys.Min(), xs.Max() - xs.Min() + 1, ys.Max() - ys.Min() + 1), r.Box);
        }
        for (int i = 0; i < regions.Count; i++)
            for (int j = i + 1; j < regions.Count; j++)
                Assert.True(SamEverything.BoxIou(regions[i].Box, regions[j].Box) <= 0.7);
        // Sorted best predicted IoU first.
        Assert.Equal(regions.OrderByDescending(r => r.PredictedIou).Select(r => r.PredictedIou), regions.Select(r => r.PredictedIou));

        // Thresholds that nothing passes leave nothing.
        Assert.Empty(SamEverything.Generate(sam, sam.Encode(image), Open with { PredIouThresh = 1e9 }));
    }

    [Fact]
    public void Stability_is_the_iou_of_the_mask_at_plus_and_minus_the_offset()
    {
        Assert.Equal(2.0 / 4, SamEverything.Stability(new float[] { 5, 2, 0.5f, -0.5f, -3 }, 1.0));
        Assert.Equal(0, SamEverything.Stability(new float[] { -5, -3 }, 1.0));
    }

    [Fact]
    public void Measure_gives_the_stability_box_area_and_mask_of_the_logits_in_one_pass()
    {
        var random = new Random(5);
        const int w = 37, h = 23;
        for (int trial = 0; trial < 20; trial++)
        {
            // Blobs of positive logits over a negative field, some near the +-offset thresholds.
            var logits = new float[w * h];
            int cx = random.Next(w), cy = random.Next(h), r = 2 + random.Next(8);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    logits[y * w + x] = (float)(r - Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) + random.NextDouble() - 0.5);
            var region = SamEverything.Measure(logits, w, h, 0.9, 1.0, 0);
            var bits = logits.Select(v => v > 0).ToArray();
            var xs = Enumerable.Range(0, w * h).Where(i => bits[i]).Select(i => i % w).ToList();
            var ys = Enumerable.Range(0, w * h).Where(i => bits[i]).Select(i => i / w).ToList();
            Assert.NotNull(region);
            Assert.Equal(bits, region.Mask);
            Assert.Equal(xs.Count, region.Area);
            Assert.Equal(new Box(xs.Min(), ys.Min(), xs.Max() - xs.Min() + 1, ys.Max() - ys.Min() + 1), region.Box);
            Assert.Equal(SamEverything.Stability(logits, 1.0), region.Stability);
            Assert.Null(SamEverything.Measure(logits, w, h, 0.9, 1.0, region.Stability + 1e-9));   // below the stability threshold
        }
        Assert.Null(SamEverything.Measure(new float[] { -1, -2, -0.5f, -3 }, 2, 2, 0.9, 1.0, 0));   // empty mask
    }

    [Fact]
    public void Nms_drops_the_lower_rated_of_overlapping_boxes()
    {
        SamRegion R(double x, double iou) => new(new bool[1], 1, 1, new Box(x, 0, 10, 10), 100, iou, 1);
        var kept = SamEverything.Nms([R(0, 0.8), R(1, 0.9), R(50, 0.5)], 0.7);
        Assert.Equal([0.9, 0.5], kept.Select(k => k.PredictedIou));
    }

    [Fact]
    public void Small_islands_are_removed_and_small_holes_filled()
    {
        // 8x8: a 4x4 square with a one-pixel hole, and a one-pixel island in the far corner.
        var bits = new bool[64];
        for (int y = 1; y < 5; y++) for (int x = 1; x < 5; x++) bits[y * 8 + x] = true;
        bits[2 * 8 + 2] = false;
        bits[7 * 8 + 7] = true;
        SamEverything.RemoveSmallRegions(bits, 8, 8, 3, holes: true);
        Assert.True(bits[2 * 8 + 2]);
        SamEverything.RemoveSmallRegions(bits, 8, 8, 3, holes: false);
        Assert.False(bits[7 * 8 + 7]);
        Assert.Equal(16, bits.Count(b => b));
    }

    [Fact]
    public void Vocabulary_is_the_prompts_nouns_then_the_tags()
    {
        Assert.Equal(["dog", "frisbee", "park"], SegmentVocabulary.PromptNouns("Two brown dogs with a red frisbee in the park"));
        Assert.Equal(["puppy", "glass"], SegmentVocabulary.PromptNouns("a photo of three puppies and a glass"));
        var v = new SegmentVocabulary().For("a cat on a bus");
        Assert.Equal("cat", v[0]);
        Assert.Equal("bus", v[1]);
        Assert.Equal(80 + 0, v.Count);   // both are COCO categories already
        Assert.Equal(80, SegmentVocabulary.Coco80.Distinct().Count());
    }

    [Fact]
    public void Tag_list_file_errors_name_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tags-{Guid.NewGuid():N}.txt");
        Assert.Contains(path, Assert.Throws<InputException>(() => SegmentVocabulary.FromFile(path)).Message);
        File.WriteAllText(path, "# nothing\n\n");
        try { Assert.Contains("empty", Assert.Throws<InputException>(() => SegmentVocabulary.FromFile(path)).Message); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Segment_reward_on_sam_and_clip_labels_every_segment_and_judges_it()
    {
        using var sam = new OnnxSam(new OnnxSamOptions(Reference.Sam));
        using var clip = new OnnxClip(new OnnxClipOptions(Reference.Clip), HashTokens);
        var vocabulary = new SegmentVocabulary(["square", "triangle", "tree"]);
        var segmenter = new OnnxSegmenter(sam, clip, vocabulary, new OnnxSegmenterOptions(Open));
        var judge = new FakeJudge(new() { ["circle"] = Verdict.Certain, ["square"] = Verdict.May, ["triangle"] = Verdict.May, ["tree"] = Verdict.Unlikely });
        var images = new[] { Reference.Image(0), Reference.Image(3) };
        var scores = new SegmentReward(segmenter, judge).Score("a red circle", images);

        Assert.Equal(2, scores.Count);
        Assert.Single(judge.Queries);   // all labels of both candidates in one query
        foreach (var (score, image) in scores.Zip(images))
        {
            var segments = score.Evidence.Segments!;
            Assert.NotEmpty(segments);
            Assert.All(segments, s =>
            {
                Assert.Contains(s.Segment.Label, new[] { "circle", "square", "triangle", "tree" });   // the prompt's noun joined the tags
                Assert.InRange(s.Segment.Confidence, 1.0 / 4, 1.0);                                   // argmax of a softmax over 4 labels
                Assert.Equal(image.Width, s.Segment.Mask.Width);
                Assert.True(s.Segment.Mask.Area > 0);
            });
            Assert.Equal(segments.Average(s => s.Verdict.Score()), score.Score, 9);
        }
    }

    [Fact]
    public void A_candidate_the_segmenter_fails_on_is_flagged_and_the_others_keep_their_scores()
    {
        var judge = new FakeJudge(new() { ["circle"] = Verdict.Certain });
        var segmenter = new FailingSegmenter();
        var scores = new SegmentReward(segmenter, judge).Score("a red circle", Images.WithIds(0, 1, 2));
        Assert.Equal([0.5, -0.5, 0.5], scores.Select(s => s.Score));
        Assert.Equal(["segmenter-failed"], scores[1].Evidence.Flags!);
        Assert.Contains("cannot segment image 1", scores[1].Evidence.Details!["segmenter-error"]);
        Assert.Equal("a red circle", segmenter.Prompt);
    }

    sealed class FailingSegmenter : IPromptedSegmenter
    {
        public string? Prompt { get; private set; }
        public string Name => "failing";
        public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public IReadOnlyList<IReadOnlyList<Segment>> Segment(string prompt, IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
        {
            Prompt = prompt;
            if (images.Any(i => i.Pixels[0] == 1)) throw new InvalidOperationException("cannot segment image 1");
            return images.Select(_ => (IReadOnlyList<Segment>)[Images.Seg("circle")]).ToList();
        }
    }

    [Fact]
    public void Clip_reward_on_onnx_clip_is_the_raw_cosine()
    {
        using var clip = new OnnxClip(new OnnxClipOptions(Reference.Clip), NoTokens);
        var images = new[] { Reference.Image(0), Reference.Image(2) };
        var scores = new ClipScoreReward(clip, weight: null).Score("x", images);
        var text = clip.EmbedTexts(["x"])[0];
        var pictures = clip.EmbedImages(images);
        for (int i = 0; i < 2; i++) Assert.Equal(Embeddings.Cosine(pictures[i], text), scores[i].Score, 12);
        Assert.EndsWith("+cosine", new ClipScoreReward(clip, weight: null).Version);
    }

    [Fact]
    public void Aesthetic_head_applies_its_linear_layers_in_order()
    {
        string path = Path.Combine(Path.GetTempPath(), $"aesthetic-{Guid.NewGuid():N}.safetensors");
        // layers.0: 2 -> 3, layers.2: 3 -> 1 (layers.1 is a dropout in LAION's MLP and has no weights).
        WriteSafetensors(path, new()
        {
            ["layers.0.weight"] = ([3, 2], [1, 0, 0, 1, 1, 1]),
            ["layers.0.bias"] = ([3], [0, 0, 1]),
            ["layers.2.weight"] = ([1, 3], [1, 2, 3]),
            ["layers.2.bias"] = ([1], [0.5f]),
        });
        try
        {
            var head = new AestheticHead(path);
            Assert.Equal(2, head.InputDimension);
            // x = (1, 2): layer 0 -> (1, 2, 4), layer 2 -> 1 + 4 + 12 + 0.5
            Assert.Equal(17.5, head.Rate(new float[] { 1, 2 }), 6);
            Assert.Throws<InvalidOperationException>(() => head.Rate(new float[] { 1, 2, 3 }));
        }
        finally { File.Delete(path); }

        WriteSafetensors(path, new() { ["layers.0.weight"] = ([2, 2], [1, 0, 0, 1]), ["layers.0.bias"] = ([2], [0, 0]) });
        try { Assert.Contains("expected 1 (the rating)", Assert.Throws<InputException>(() => new AestheticHead(path)).Message); }
        finally { File.Delete(path); }
    }

    static void WriteSafetensors(string path, Dictionary<string, (long[] Shape, float[] Values)> tensors)
    {
        var header = new StringBuilder("{");
        var data = new List<byte>();
        foreach (var (name, (shape, values)) in tensors)
        {
            if (header.Length > 1) header.Append(',');
            header.Append($"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Count},{data.Count + values.Length * 4}]}}");
            foreach (var v in values) { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); data.AddRange(b); }
        }
        header.Append('}');
        var headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        var length = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, headerBytes.Length);
        File.WriteAllBytes(path, [.. length, .. headerBytes, .. data]);
    }
}
