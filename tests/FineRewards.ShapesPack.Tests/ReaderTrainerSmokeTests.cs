using System.Text.Json;
using FineRewards.Core.Packs;
using FineRewards.Shapes.Rendering;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Contrastive;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Segmenter;
using FineRewards.ShapesPack.Training;

namespace FineRewards.ShapesPack.Tests;

/// <summary>A few steps of each reader trainer: finite loss, the files and pack.json entry, and an exact save/load round trip.</summary>
public sealed class ReaderTrainerSmokeTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "fr-readers-" + Guid.NewGuid().ToString("N"));
    readonly List<string> _progress = [];

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    PackTrainContext Context(string component) => new(Path.Combine(_root, "pack"), Path.Combine(_root, "work"), 7, 10, 3, false,
        $"test --component {component}", _progress.Add);

    static readonly IReadOnlyList<FineRewards.Contracts.RgbImage> Images =
        ReaderScenes.SampleMany(3, new Random(11)).Select(s => SceneRenderer.Render(s.Scene)).ToList();

    PackComponent TrainAndCheck(IPackComponentTrainer trainer)
    {
        var record = trainer.Train(Context(trainer.Component));
        string folder = Path.Combine(_root, "pack", trainer.Component);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "config.json")));
        var manifest = PackManifest.Load(Path.Combine(_root, "pack", PackManifest.FileName));
        Assert.Equal(record, manifest.Components![trainer.Component], new ComponentComparer());
        Assert.Equal(3, record.Training!.Steps);
        Assert.True(double.IsFinite(record.Training.Metrics!["final_loss"]) && record.Training.Metrics["final_loss"] > 0);
        Assert.Contains(manifest.Files, f => f.Path == $"{trainer.Component}/model.safetensors");
        Assert.True(File.Exists(Path.Combine(_root, "work", trainer.Component, "checkpoint.safetensors")));
        return record;
    }

    [Fact]
    public void Captioner_trains_saves_and_reloads_identically()
    {
        TrainAndCheck(new CaptionerTrainer(batchSize: 4, evalImages: 4));
        using var a = ShapesCaptioner.Load(Path.Combine(_root, "pack"));
        ReaderTraining.SaveWeights(a.Model, Path.Combine(_root, "copy", ShapesCaptioner.Component), fp16: false);
        ReaderTraining.SaveConfig(Path.Combine(_root, "copy", ShapesCaptioner.Component), a.Model.Config);
        using var b = ShapesCaptioner.Load(Path.Combine(_root, "copy"));
        AssertSameWeights(a.Model, b.Model);
        Assert.Equal(a.Caption(Images), b.Caption(Images));
    }

    [Fact]
    public void Segmenter_trains_saves_and_reloads_identically()
    {
        TrainAndCheck(new SegmenterTrainer(batchSize: 4, evalImages: 4));
        using var a = ShapesSegmenter.Load(Path.Combine(_root, "pack"));
        ReaderTraining.SaveWeights(a.Model, Path.Combine(_root, "copy", ShapesSegmenter.Component), fp16: false);
        ReaderTraining.SaveConfig(Path.Combine(_root, "copy", ShapesSegmenter.Component), a.Model.Config);
        using var b = ShapesSegmenter.Load(Path.Combine(_root, "copy"));
        AssertSameWeights(a.Model, b.Model);
        Assert.Equal(JsonSerializer.Serialize(a.Segment(Images)), JsonSerializer.Serialize(b.Segment(Images)));
    }

    [Fact]
    public void Contrastive_model_trains_saves_and_reloads_identically()
    {
        TrainAndCheck(new ContrastiveTrainer(batchSize: 4, evalBatches: 1));
        string pack = Path.Combine(_root, "pack");
        Assert.True(File.Exists(Path.Combine(pack, "contrastive", "tokenizer", "vocab.json")));
        using var a = ShapesContrastive.Load(pack);
        // Every grammar word is one token of the pack's own vocabulary.
        Assert.Equal(6, a.Tokenizer.Encode("a red circle to the left").Count);
        string copy = Path.Combine(_root, "copy", ShapesContrastive.Component);
        ReaderTraining.SaveWeights(a.Model, copy, fp16: false);
        ReaderTraining.SaveConfig(copy, a.Model.Config);
        Directory.CreateDirectory(Path.Combine(copy, "tokenizer"));
        foreach (var f in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(pack, "contrastive", "tokenizer", f), Path.Combine(copy, "tokenizer", f));
        using var b = ShapesContrastive.Load(Path.Combine(_root, "copy"));
        AssertSameWeights(a.Model, b.Model);
        Assert.Equal(a.EmbedImages(Images), b.EmbedImages(Images));
        Assert.Equal(a.Embed(["two red circles"]), b.Embed(["two red circles"]));
        Assert.Equal(1.0, a.Embed(["a blue square"])[0].Sum(x => (double)x * x), 4);
    }

    static void AssertSameWeights(TorchSharp.torch.nn.Module a, TorchSharp.torch.nn.Module b)
    {
        var sb = b.state_dict();
        foreach (var (name, t) in a.state_dict()) Assert.True(Same(t, sb[name]), $"{name} differs after the round trip");
    }

    sealed class ComponentComparer : IEqualityComparer<PackComponent>
    {
        public bool Equals(PackComponent? x, PackComponent? y) =>
            x!.Kind == y!.Kind && x.Path == y.Path && x.Training!.Steps == y.Training!.Steps &&
            x.Training.Metrics!.OrderBy(k => k.Key).SequenceEqual(y.Training.Metrics!.OrderBy(k => k.Key));
        public int GetHashCode(PackComponent obj) => obj.Kind.GetHashCode();
    }

    static bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}
