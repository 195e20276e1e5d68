using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Rewards.Onnx;
using FineRewards.Rewards.Segments;
using FineRewards.Rewards.Tests.Rewards;

namespace FineRewards.Rewards.Tests.Onnx;

/// <summary>
/// The detector on Fixtures/owlvit (make_tiny_owlvit.py): a graph with the OWL-ViT export's names whose hand-set
/// weights give "circle" a 0.90 box at normalised (0.30, 0.30, 0.40, 0.40), a 0.60 box overlapping it, and "square" a
/// 0.88 box at (0.75, 0.70, 0.30, 0.40).
/// </summary>
public sealed class OnnxOwlDetectorTests
{
    static string Owl => Path.Combine(AppContext.BaseDirectory, "Fixtures", "owlvit");

    /// <summary>BOS, CLIP's real ids for "circle" and "square" (others 320, CLIP's "a"), EOS, zeros: enough for the fixture graph.</summary>
    static int[] Tokens(string text, int length)
    {
        var ids = new int[length];
        ids[0] = 49406;
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(length - 2).ToArray();
        for (int i = 0; i < words.Length; i++) ids[1 + i] = words[i] switch { "circle" => 7117, "square" => 3999, _ => 320 };
        ids[1 + words.Length] = 49407;
        return ids;
    }

    static RgbImage Grey(int w, int h) => new(w, h, Enumerable.Repeat((byte)90, w * h * 3).ToArray());

    [Fact]
    public void A_normalised_centre_box_becomes_a_pixel_box_clipped_to_the_image()
    {
        // cx 0.30 w 0.40 of 32 px: 3.2 .. 16.0
        Assert.Equal(new Box(3, 3, 13, 13), OnnxOwlDetector.PixelBox([0.30f, 0.30f, 0.40f, 0.40f], 32, 32, 32, 32));
        // A 64 x 32 image: x 6.4 .. 32.0, y 3.2 .. 16.0
        Assert.Equal(new Box(6, 3, 26, 13), OnnxOwlDetector.PixelBox([0.30f, 0.30f, 0.40f, 0.40f], 64, 32, 64, 32));
        // Past the edges: clipped.
        Assert.Equal(new Box(0, 24, 8, 8), OnnxOwlDetector.PixelBox([0.0f, 1.0f, 0.5f, 0.5f], 32, 32, 32, 32));
        // OWLv2: fractions of the padded 64 x 64 square, clipped to the 64 x 32 image.
        Assert.Equal(new Box(16, 16, 32, 16), OnnxOwlDetector.PixelBox([0.5f, 0.5f, 0.5f, 0.5f], 64, 64, 64, 32));
    }

    [Fact]
    public void Known_queries_give_their_known_boxes_and_nms_drops_the_overlapping_weaker_one()
    {
        using var detector = new OnnxOwlDetector(new OnnxOwlDetectorOptions(Owl), Tokens);
        var found = detector.Detect(Grey(32, 32), ["circle", "square"]);
        Assert.Equal(2, found.Count);
        Assert.Equal("circle", found[0].Query);
        Assert.Equal(1 / (1 + Math.Exp(-2.2)), found[0].Score, 5);
        Assert.Equal(new Box(3, 3, 13, 13), found[0].Box);
        Assert.Equal("square", found[1].Query);
        Assert.Equal(1 / (1 + Math.Exp(-2.0)), found[1].Score, 5);
        Assert.Equal(new Box(19, 16, 10, 13), found[1].Box);   // x 19.2 .. 28.8, y 16.0 .. 28.8

        // Boxes follow the image's size (OWL-ViT stretches the image to its square input).
        Assert.Equal(new Box(6, 9, 26, 39), detector.Detect(Grey(64, 96), ["circle"]).Single().Box);   // x 6.4 .. 32.0, y 9.6 .. 48.0

        // A noun the graph does not know scores sigmoid(-5) everywhere: under the 0.1 threshold.
        Assert.Empty(detector.Detect(Grey(32, 32), ["bird"]));
        Assert.Empty(detector.Detect(Grey(32, 32), []));
    }

    [Fact]
    public void Threshold_and_nms_are_settings()
    {
        // Without suppression the 0.60 box of "circle" survives too.
        using (var loose = new OnnxOwlDetector(new OnnxOwlDetectorOptions(Owl, NmsThresh: 1.0), Tokens))
            Assert.Equal([0.90, 0.60], loose.Detect(Grey(32, 32), ["circle"]).Select(d => Math.Round(d.Score, 2)));
        // 0.89 keeps circle (0.90) and drops square (0.88).
        using (var strict = new OnnxOwlDetector(new OnnxOwlDetectorOptions(Owl, Threshold: 0.89), Tokens))
            Assert.Equal(["circle"], strict.Detect(Grey(32, 32), ["circle", "square"]).Select(d => d.Query));

        var e = Assert.Throws<InputException>(() => new OnnxOwlDetectorOptions(Owl, Threshold: 1.5).Validate("pack.json: components.detector.config."));
        Assert.Equal("pack.json: components.detector.config.threshold", e.Field);
        Assert.Throws<InputException>(() => new OnnxOwlDetector(new OnnxOwlDetectorOptions(Owl, QueryTemplate: "no noun"), Tokens));
    }

    [Fact]
    public void A_plain_number_size_is_a_square_as_owlvits_processor_reads_it()
    {
        string folder = Directory.CreateTempSubdirectory("owl-size-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "onnx"));
            File.Copy(Path.Combine(Owl, "onnx", "model.onnx"), Path.Combine(folder, "onnx", "model.onnx"));
            // google/owlvit-base-patch32's form, at the fixture's 32 px.
            File.WriteAllText(Path.Combine(folder, "preprocessor_config.json"), """{"size": 32, "crop_size": 32, "do_center_crop": true, "resample": 3}""");
            using (var detector = new OnnxOwlDetector(new OnnxOwlDetectorOptions(folder), Tokens))
            {
                Assert.Equal((0, 32, 32), (detector.Processor.ShortestEdge, detector.Processor.CropWidth, detector.Processor.CropHeight));
                // Stretched, not cropped: the box covers the same fractions of a wide image.
                Assert.Equal(new Box(6, 3, 26, 13), detector.Detect(Grey(64, 32), ["circle"]).Single().Box);
            }
            File.WriteAllText(Path.Combine(folder, "preprocessor_config.json"), """{"size": 32, "crop_size": 24}""");
            var e = Assert.Throws<InputException>(() => new OnnxOwlDetector(new OnnxOwlDetectorOptions(folder), Tokens));
            Assert.Equal(Path.Combine(folder, "preprocessor_config.json"), e.Field);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_graph_of_another_role_is_refused_at_load_with_expected_and_found_names()
    {
        string folder = Directory.CreateTempSubdirectory("owl-wrong-").FullName;
        try
        {
            File.Copy(OnnxClipOptions.GraphPath(Reference.Clip, "vision_model"), Path.Combine(folder, "model.onnx"));
            var e = Assert.Throws<InputException>(() => new OnnxOwlDetector(new OnnxOwlDetectorOptions(folder), Tokens));
            Assert.Equal(Path.Combine(folder, "model.onnx"), e.Field);
            Assert.Contains("OWL-ViT detector", e.Message);
            Assert.Contains("missing input_ids", e.Message);
            Assert.Contains("Expected inputs: input_ids [?,?], pixel_values [?,3,768,768], attention_mask [?,?]", e.Message);
            Assert.Contains("Found inputs: pixel_values", e.Message);

            File.Delete(Path.Combine(folder, "model.onnx"));
            e = Assert.Throws<InputException>(() => new OnnxOwlDetector(new OnnxOwlDetectorOptions(folder), Tokens));
            Assert.Contains("graph not found", e.Message);
            Assert.Contains(Path.Combine(folder, "onnx", "model.onnx"), e.Field);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // The fixture SAM's weights are random: filters opened, as in SegmentationTests.
    static readonly SamEverythingOptions Open = new(PointsPerSide: 3, PredIouThresh: double.NegativeInfinity, StabilityScoreThresh: 0, BoxNmsThresh: 0.7);

    [Fact]
    public void A_detector_box_becomes_a_sam_box_prompt_whose_mask_is_labelled_by_its_query()
    {
        using var sam = new OnnxSam(new OnnxSamOptions(Reference.Sam));
        using var clip = new OnnxClip(new OnnxClipOptions(Reference.Clip), Tokens);
        using var detector = new OnnxOwlDetector(new OnnxOwlDetectorOptions(Owl), Tokens);
        var segmenter = new OnnxSegmenter(sam, clip, new SegmentVocabulary(["tree"]), new OnnxSegmenterOptions(Open), detector);
        var image = Reference.Image(3);   // 120 x 80
        var segments = segmenter.Segment("a red circle above a blue square", [image])[0];

        var fromDetector = segments.Where(s => s.Source == OnnxSegmenter.DetectorSource).ToList();
        // The detector found circle and square; the random fixture SAM gives the square's box an empty mask, which is dropped.
        Assert.Equal(["circle"], fromDetector.Select(s => s.Label));
        Assert.Equal(1 / (1 + Math.Exp(-2.2)), fromDetector[0].Confidence, 5);
        var embedding = sam.Encode(image);
        var squareBox = OnnxOwlDetector.PixelBox([0.75f, 0.70f, 0.30f, 0.40f], 120, 80, 120, 80);
        Assert.DoesNotContain(sam.Decode(embedding, BoxPrompt(squareBox)).Logits, v => v > 0);
        // The mask is what SAM gives for the detector's box as a box prompt (corners labelled 2 and 3).
        var circleBox = OnnxOwlDetector.PixelBox([0.30f, 0.30f, 0.40f, 0.40f], 120, 80, 120, 80);
        Assert.Equal(new Box(12, 8, 48, 32), circleBox);
        var expected = sam.Decode(embedding, BoxPrompt(circleBox));
        Assert.Equal(expected.Logits.Select(v => v > 0).ToArray(), fromDetector[0].Mask.ToBits());
        Assert.True(fromDetector[0].Mask.Area > 0);
        // A point prompt in the box's centre gives another mask: the corners really went in as a box.
        var point = sam.Decode(embedding, [new((float)(circleBox.X + circleBox.Width / 2), (float)(circleBox.Y + circleBox.Height / 2), 1)]);
        Assert.NotEqual(point.Logits.Select(v => v > 0).ToArray(), fromDetector[0].Mask.ToBits());

        // The grid's segments are still there, CLIP-labelled, none repeating a detector mask.
        var grid = segments.Where(s => s.Source == OnnxSegmenter.GridSource).ToList();
        Assert.NotEmpty(grid);
        Assert.All(grid, s => Assert.Contains(s.Label, new[] { "circle", "square", "tree" }));
        foreach (var g in grid)
            foreach (var d in fromDetector)
                Assert.True(Iou(g.Mask.ToBits(), d.Mask.ToBits()) < 0.7);

        // Then the judge gives the detector's labels their verdicts like any other.
        var judge = new FakeJudge(new() { ["circle"] = Verdict.Certain, ["square"] = Verdict.Certain, ["tree"] = Verdict.Unlikely });
        var score = new SegmentReward(segmenter, judge).Score("a red circle above a blue square", [image])[0];
        Assert.All(score.Evidence.Segments!.Where(s => s.Segment.Source == OnnxSegmenter.DetectorSource), s => Assert.Equal(Verdict.Certain, s.Verdict));
    }

    static SamPoint[] BoxPrompt(Box b) => [new((float)b.X, (float)b.Y, 2), new((float)(b.X + b.Width), (float)(b.Y + b.Height), 3)];

    static double Iou(bool[] a, bool[] b)
    {
        int both = a.Zip(b).Count(p => p.First && p.Second), union = a.Zip(b).Count(p => p.First || p.Second);
        return union == 0 ? 0 : (double)both / union;
    }

    [Fact]
    public void Grid_regions_repeating_a_detector_mask_are_dropped()
    {
        static SamRegion Region(params int[] on)
        {
            var bits = new bool[10];
            foreach (int i in on) bits[i] = true;
            return new SamRegion(bits, 10, 1, new Box(on.Min(), 0, on.Max() - on.Min() + 1, 1), on.Length, 1, 1);
        }
        var detected = Region(0, 1, 2, 3);
        var same = Region(0, 1, 2, 3, 4);   // IoU 0.8
        var other = Region(2, 3, 4, 5, 6);  // IoU 2/7
        Assert.Equal(0.8, OnnxSegmenter.MaskIou(detected, same), 9);
        Assert.Equal([other], OnnxSegmenter.WithoutDuplicates([detected], [same, other], 0.7));
        Assert.Equal([same, other], OnnxSegmenter.WithoutDuplicates([], [same, other], 0.7));
    }
}
