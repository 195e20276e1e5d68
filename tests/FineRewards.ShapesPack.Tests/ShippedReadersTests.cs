using FineRewards.Core.Packs;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Contrastive;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Readers;
using FineRewards.ShapesPack.Segmenter;

namespace FineRewards.ShapesPack.Tests;

/// <summary>
/// The reader models shipped in packs/shapes load from the manifest's files and still read held-out
/// renders about as well as at training time (thresholds: the measured values with a margin for the
/// smaller samples used here; see docs/shapes-pack.md for the full measurements).
/// </summary>
public sealed class ShippedReadersTests : IDisposable
{
    readonly ShapesPackReaders _readers = new(ShapesPackInfo.SourceFolder()!);

    public void Dispose() => _readers.Dispose();

    [Fact]
    public void Manifest_lists_the_reader_components_with_intact_files()
    {
        var status = PackLocator.Check(ShapesPackInfo.SourceFolder()!, verifyHashes: true);
        Assert.True(status.Problems.Count == 0, string.Join("\n", status.Problems));
        foreach (var component in new[] { ShapesCaptioner.Component, ShapesSegmenter.Component, ShapesContrastive.Component })
        {
            var record = status.Manifest!.Components![component];
            Assert.Equal(component, record.Kind);
            Assert.True(record.Training!.Steps > 100);
            Assert.Contains(status.Manifest.Files, f => f.Path == $"{component}/model.safetensors" && f.Bytes < 5_000_000);
        }
    }

    [Fact]
    public void Captioner_writes_exact_canonical_captions_for_held_out_renders()
    {
        var m = CaptionerMetrics.Measure(_readers.Captioner, new Random(2024), 48);
        Assert.True(m["exact_match"] >= CaptionerClean, $"exact match {m["exact_match"]}");
        Assert.True(m["exact_match_noisy"] >= CaptionerNoisy, $"noisy exact match {m["exact_match_noisy"]}");
    }

    [Fact]
    public void Segmenter_finds_and_labels_every_object_of_held_out_renders()
    {
        var m = SegmenterMetrics.Measure(_readers.Segmenter, new Random(2025), 64);
        Assert.True(m["label_accuracy"] >= 0.95, $"label accuracy {m["label_accuracy"]}");
        Assert.True(m["mask_iou"] >= 0.9, $"mask IoU {m["mask_iou"]}");
        Assert.True(m["label_accuracy_noisy"] >= 0.9, $"noisy label accuracy {m["label_accuracy_noisy"]}");
        Assert.True(m["extra_segments_per_image"] <= 0.1, $"extra segments {m["extra_segments_per_image"]}");
    }

    [Fact]
    public void Contrastive_model_retrieves_the_right_text_among_64()
    {
        var m = ContrastiveMetrics.Measure(_readers.Contrastive, new Random(2026), 2);
        Assert.True(m["retrieval_top1_of_64"] >= ContrastiveTop1, $"top-1 of 64 {m["retrieval_top1_of_64"]}");
        Assert.True(m["near_miss_preference"] >= ContrastiveNearMiss, $"near-miss preference {m["near_miss_preference"]}");
    }

    // Measured at training time (pack.json) and by `finerewards bench rewards`, minus a margin.
    const double CaptionerClean = 0.55, CaptionerNoisy = 0.5, ContrastiveTop1 = 0.6, ContrastiveNearMiss = 0.65;
}
