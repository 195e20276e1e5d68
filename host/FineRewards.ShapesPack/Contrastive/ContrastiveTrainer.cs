using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Tokenizer;
using FineRewards.Rewards.Embedders;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Nn;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.ShapesPack.Contrastive;

/// <summary>
/// Trains the contrastive model on (render, text) pairs from <see cref="ReaderScenes"/> (the text is the
/// canonical caption or the prompt the scene was drawn for) with CLIP's symmetric InfoNCE loss. Each
/// image also meets a near-miss text (<see cref="PromptPerturbation"/>) among its negatives, so the
/// model must read colours, counts and relations rather than only which objects are present.
/// Writes its own CLIP-format vocabulary (ClipVocabularyBuilder) to <c>contrastive/tokenizer/</c>.
/// </summary>
public sealed class ContrastiveTrainer(int batchSize = 48, double learningRate = 1e-3, int evalBatches = 8) : IPackComponentTrainer
{
    public string Component => ShapesContrastive.Component;
    public string Description => "CLIP-style image-text model (CNN + CLIPTextModel) for the CLIP-score baseline and as a text embedder";
    public IReadOnlyList<string> DependsOn => [];

    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges) BuildVocabulary() =>
        ClipVocabularyBuilder.Train(CaptionVocabulary.Grammar().Words.Skip(3).ToDictionary(w => w, _ => 1));

    public PackComponent Train(PackTrainContext context)
    {
        manual_seed(context.DataSeed);
        string folder = Path.Combine(context.PackFolder, Component);
        var (vocab, merges) = BuildVocabulary();
        ClipVocabularyBuilder.WriteFiles(Path.Combine(folder, "tokenizer"), vocab, merges);
        var config = ShapesContrastiveConfig.Default(vocab.Count, vocab[ClipTokenizer.StartOfText], vocab[ClipTokenizer.EndOfText]);
        var tokenizer = ShapesContrastive.LoadTokenizer(folder, config);
        using var model = new ShapesContrastiveModel(config);
        var augment = new AugmentOptions();

        var loop = ReaderTraining.Run(context, Component, model, new ReaderOptimizer(learningRate), s =>
        {
            var random = ReaderScenes.StepRandom(context.DataSeed, s);
            var scenes = ReaderScenes.SampleMany(batchSize, random);
            var (images, _) = Augment.Apply(ImageTensors.Render(scenes.Select(x => x.Scene)), null, augment, random);
            var texts = scenes.Select(x => x.Text).ToList();
            var negatives = texts.Select(t => PromptPerturbation.Perturb(PromptGrammar.ParseCaption(t), random).Text).ToList();
            var img = model.EncodeImages(images);                                   // [B, E]
            var txt = model.EncodeTexts(tokenizer.EncodeBatch([.. texts, .. negatives]));   // [2B, E]
            var logits = model.Scale() * img.matmul(txt.T);                         // [B, 2B]
            var target = arange(batchSize, dtype: ScalarType.Int64);
            var imageToText = F.cross_entropy(logits, target);
            var textToImage = F.cross_entropy(logits[.., ..batchSize].T, target);
            return imageToText.add(textToImage).Mul(0.5);
        });

        return ReaderTraining.Ship(context, Component, config, model, loop, ShapesContrastive.Load,
            shipped => ContrastiveMetrics.Measure(shipped, ReaderScenes.HeldOutRandom(context.DataSeed), evalBatches));
    }
}

/// <summary>
/// Image-to-text retrieval top-1 among 64 (each held-out image against the 64 texts of its batch; a
/// hit when the best text is its own), clean and noisy, and how often the image prefers its own text
/// to a near-miss one.
/// </summary>
public static class ContrastiveMetrics
{
    public static IReadOnlyDictionary<string, double> Measure(ShapesContrastive model, Random random, int batches)
    {
        int hits = 0, noisyHits = 0, nearMiss = 0, total = 0;
        for (int b = 0; b < batches; b++)
        {
            var scenes = ReaderScenes.SampleMany(64, random);
            var texts = scenes.Select(s => s.Text).ToList();
            var clean = scenes.Select(s => SceneRenderer.Render(s.Scene)).ToList();
            var noisy = Augment.Images(clean, new AugmentOptions(Clean: 0), random);
            var negatives = texts.Select(t => PromptPerturbation.Perturb(PromptGrammar.ParseCaption(t), random).Text).ToList();
            var textVectors = model.EmbedTexts(texts);
            var negativeVectors = model.EmbedTexts(negatives);
            var cleanVectors = model.EmbedImages(clean);
            hits += Hits(cleanVectors, textVectors, texts);
            noisyHits += Hits(model.EmbedImages(noisy), textVectors, texts);
            for (int i = 0; i < clean.Count; i++)
                if (Embeddings.Cosine(cleanVectors[i], textVectors[i]) > Embeddings.Cosine(cleanVectors[i], negativeVectors[i])) nearMiss++;
            total += clean.Count;
        }
        return new Dictionary<string, double>
        {
            ["retrieval_top1_of_64"] = Math.Round((double)hits / total, 4),
            ["retrieval_top1_of_64_noisy"] = Math.Round((double)noisyHits / total, 4),
            ["near_miss_preference"] = Math.Round((double)nearMiss / total, 4),
            ["eval_images"] = total,
        };
    }

    static int Hits(IReadOnlyList<float[]> images, IReadOnlyList<float[]> texts, IReadOnlyList<string> truth)
    {
        int hits = 0;
        for (int i = 0; i < images.Count; i++)
        {
            int best = 0;
            double bestScore = double.NegativeInfinity;
            for (int j = 0; j < texts.Count; j++)
            {
                double c = Embeddings.Cosine(images[i], texts[j]);
                if (c > bestScore) { bestScore = c; best = j; }
            }
            if (truth[best] == truth[i]) hits++;   // duplicate texts in a batch count as the same answer
        }
        return hits;
    }
}
