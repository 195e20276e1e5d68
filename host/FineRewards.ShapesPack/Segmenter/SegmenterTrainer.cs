using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Shapes.Rendering;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Segmenter;

/// <summary>
/// Trains the segmenter's per-pixel classifier on <see cref="ReaderScenes"/> renders with their
/// <see cref="SceneMasks"/> class maps (warped with the image by <see cref="Augment"/>); cross-entropy.
/// </summary>
public sealed class SegmenterTrainer(ShapesSegmenterConfig? config = null, int batchSize = 16, double learningRate = 2e-3, int evalImages = 200) : IPackComponentTrainer
{
    readonly ShapesSegmenterConfig _config = config ?? ShapesSegmenterConfig.Default();

    public string Component => ShapesSegmenter.Component;
    public string Description => "instance segmenter (per-pixel U-Net classifier + connected regions) with colour-shape labels";
    public IReadOnlyList<string> DependsOn => [];

    public PackComponent Train(PackTrainContext context)
    {
        manual_seed(context.DataSeed);
        using var model = new ShapesSegmenterModel(_config);
        var augment = new AugmentOptions();
        var loop = ReaderTraining.Run(context, Component, model, new ReaderOptimizer(learningRate), s =>
        {
            var random = ReaderScenes.StepRandom(context.DataSeed, s);
            var scenes = ReaderScenes.SampleMany(batchSize, random).Select(x => x.Scene).ToList();
            var (images, targets) = Augment.Apply(ImageTensors.Render(scenes), ImageTensors.ClassTargets(scenes), augment, random);
            return F.cross_entropy(model.forward(images), targets!);
        });

        return ReaderTraining.Ship(context, Component, _config, model, loop, ShapesSegmenter.Load,
            shipped => SegmenterMetrics.Measure(shipped, ReaderScenes.HeldOutRandom(context.DataSeed), evalImages));
    }
}

/// <summary>
/// Per-object label accuracy (the best-overlapping segment has IoU &gt;= 0.5 and the right label), mean
/// mask IoU of each object's best segment, extra segments per image, and the share of images whose
/// labels match the truth exactly (as a multiset), on held-out renders, clean and noisy (no warp, so
/// the true masks stay exact).
/// </summary>
public static class SegmenterMetrics
{
    public sealed record Result(double LabelAccuracy, double MeanIou, double ExtraPerImage, double ExactImages);

    public static IReadOnlyDictionary<string, double> Measure(ShapesSegmenter segmenter, Random random, int count)
    {
        var scenes = ReaderScenes.SampleMany(count, random).Select(s => s.Scene).ToList();
        var clean = scenes.Select(SceneRenderer.Render).ToList();
        var noisy = Augment.Images(clean, new AugmentOptions(Clean: 0, Warp: 0, Wobble: 0), random);
        var a = Score(segmenter, scenes, clean);
        var b = Score(segmenter, scenes, noisy);
        return new Dictionary<string, double>
        {
            ["label_accuracy"] = Math.Round(a.LabelAccuracy, 4),
            ["mask_iou"] = Math.Round(a.MeanIou, 4),
            ["extra_segments_per_image"] = Math.Round(a.ExtraPerImage, 4),
            ["exact_images"] = Math.Round(a.ExactImages, 4),
            ["label_accuracy_noisy"] = Math.Round(b.LabelAccuracy, 4),
            ["mask_iou_noisy"] = Math.Round(b.MeanIou, 4),
            ["exact_images_noisy"] = Math.Round(b.ExactImages, 4),
            ["eval_images"] = count,
        };
    }

    public static Result Score(ShapesSegmenter segmenter, IReadOnlyList<Shapes.World.Scene> scenes, IReadOnlyList<RgbImage> images)
    {
        int objects = 0, correct = 0, extra = 0, exact = 0;
        double iouSum = 0;
        for (int i = 0; i < images.Count; i += 64)
        {
            var batch = images.Skip(i).Take(64).ToList();
            var found = segmenter.Segment(batch);
            for (int j = 0; j < batch.Count; j++)
            {
                var scene = scenes[i + j];
                var truth = SceneMasks.InstanceMap(scene.Objects);
                var masks = found[j].Select(s => s.Mask.ToBits()).ToList();
                var matched = new bool[masks.Count];
                for (int o = 0; o < scene.Objects.Count; o++)
                {
                    objects++;
                    double best = 0;
                    int bestIndex = -1;
                    for (int m = 0; m < masks.Count; m++)
                    {
                        double iou = Iou(truth, o, masks[m]);
                        if (iou > best) { best = iou; bestIndex = m; }
                    }
                    iouSum += best;
                    if (bestIndex >= 0 && best >= 0.5)
                    {
                        matched[bestIndex] = true;
                        if (found[j][bestIndex].Label == scene.Objects[o].Name) correct++;
                    }
                }
                extra += matched.Count(x => !x);
                var want = scene.Objects.Select(o => o.Name).Order(StringComparer.Ordinal);
                var got = found[j].Select(s => s.Label).Order(StringComparer.Ordinal);
                if (want.SequenceEqual(got)) exact++;
            }
        }
        return new Result((double)correct / objects, iouSum / objects, (double)extra / images.Count, (double)exact / images.Count);
    }

    static double Iou(int[] truth, int index, bool[] mask)
    {
        int inter = 0, union = 0;
        for (int p = 0; p < truth.Length; p++)
        {
            bool t = truth[p] == index;
            if (t && mask[p]) inter++;
            if (t || mask[p]) union++;
        }
        return union == 0 ? 0 : (double)inter / union;
    }
}
