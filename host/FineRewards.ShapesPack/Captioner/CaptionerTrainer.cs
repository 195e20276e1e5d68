using FineRewards.Core.Packs;
using FineRewards.Shapes.Rendering;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Captioner;

/// <summary>
/// Trains the captioner on canonical captions (SceneCaption) of scenes from <see cref="ReaderScenes"/>,
/// rendered by the spec renderer and disturbed by <see cref="Augment"/>; teacher forcing, cross-entropy.
/// </summary>
public sealed class CaptionerTrainer(ShapesCaptionerConfig? config = null, int batchSize = 32, double learningRate = 1e-3, int evalImages = 256) : IPackComponentTrainer
{
    readonly ShapesCaptionerConfig _config = config ?? ShapesCaptionerConfig.Default();

    public string Component => ShapesCaptioner.Component;
    public string Description => "image captioner (CNN + transformer decoder) trained on canonical captions";
    public IReadOnlyList<string> DependsOn => [];

    public PackComponent Train(PackTrainContext context)
    {
        manual_seed(context.DataSeed);
        var vocabulary = new CaptionVocabulary(_config.Vocabulary);
        using var model = new ShapesCaptionerModel(_config);
        var augment = new AugmentOptions();
        var loop = ReaderTraining.Run(context, Component, model, new ReaderOptimizer(learningRate), s =>
        {
            var random = ReaderScenes.StepRandom(context.DataSeed, s);
            var scenes = ReaderScenes.SampleMany(batchSize, random);
            var (images, _) = Augment.Apply(ImageTensors.Render(scenes.Select(x => x.Scene)), null, augment, random);
            var pairs = scenes.Select(x => vocabulary.EncodeTeacherForcing(x.Caption, _config.MaxLength)).ToList();
            var input = tensor(pairs.SelectMany(p => p.Input).ToArray(), [batchSize, _config.MaxLength]);
            var target = tensor(pairs.SelectMany(p => p.Target).ToArray(), [batchSize, _config.MaxLength]);
            var logits = model.forward(images, input);                                     // [B, L, V]
            return F.cross_entropy(logits.reshape(-1, vocabulary.Count), target.reshape(-1), ignore_index: CaptionVocabulary.PadId);
        });

        return ReaderTraining.Ship(context, Component, _config, model, loop, ShapesCaptioner.Load,
            shipped => CaptionerMetrics.Measure(shipped, ReaderScenes.HeldOutRandom(context.DataSeed), evalImages));
    }
}

/// <summary>Exact-match caption accuracy on held-out renders, clean and disturbed.</summary>
public static class CaptionerMetrics
{
    public static IReadOnlyDictionary<string, double> Measure(ShapesCaptioner captioner, Random random, int count)
    {
        var scenes = ReaderScenes.SampleMany(count, random);
        var truth = scenes.Select(s => s.Caption).ToList();
        var clean = scenes.Select(s => SceneRenderer.Render(s.Scene)).ToList();
        var noisy = Augment.Images(clean, new AugmentOptions(Clean: 0), random);
        return new Dictionary<string, double>
        {
            ["exact_match"] = Math.Round(ExactMatch(captioner, clean, truth), 4),
            ["exact_match_noisy"] = Math.Round(ExactMatch(captioner, noisy, truth), 4),
            ["eval_images"] = count,
        };
    }

    public static double ExactMatch(ShapesCaptioner captioner, IReadOnlyList<FineRewards.Contracts.RgbImage> images, IReadOnlyList<string> truth)
    {
        int hits = 0;
        for (int i = 0; i < images.Count; i += 64)
        {
            var batch = images.Skip(i).Take(64).ToList();
            var captions = captioner.Caption(batch);
            for (int j = 0; j < batch.Count; j++) if (captions[j] == truth[i + j]) hits++;
        }
        return (double)hits / images.Count;
    }
}
