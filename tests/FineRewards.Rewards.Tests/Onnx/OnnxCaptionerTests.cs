using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Rewards.Caption;
using FineRewards.Rewards.Onnx;
using FineRewards.Rewards.Tests.Rewards;

namespace FineRewards.Rewards.Tests.Onnx;

/// <summary>
/// The decoding loop on the tiny captioner of Fixtures/captioner (made by its make_tiny_captioner.py): greedy decoding
/// gives "a red circle" and stops on a red image, and runs to the length limit on a blue one ("a blue square big ...").
/// </summary>
public sealed class OnnxCaptionerTests
{
    static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "captioner");

    static RgbImage Solid(byte r, byte g, byte b, int w = 20, int h = 12) =>
        new(w, h, Enumerable.Range(0, w * h).SelectMany(_ => new[] { r, g, b }).ToArray());

    [Fact]
    public void Greedy_decoding_stops_at_the_end_token_per_image_and_at_the_length_limit()
    {
        using var captioner = new OnnxCaptioner(new OnnxCaptionerOptions(Folder, MaxTokens: 6));
        var red = Solid(250, 10, 10);
        var blue = Solid(10, 10, 250, 7, 31);
        var captions = captioner.Caption([red, blue, red]);
        Assert.Equal(["a red circle", "a blue square big big big", "a red circle"], captions);

        var ids = captioner.Generate([red, blue]);
        Assert.Equal([5, 6, 7, 3], ids[0]);        // a red circle [SEP]: stopped at the end token
        Assert.Equal(6, ids[1].Count);            // never ends: cut at MaxTokens
    }

    [Fact]
    public void A_batch_gives_the_same_captions_as_one_image_at_a_time()
    {
        using var batched = new OnnxCaptioner(new OnnxCaptionerOptions(Folder, MaxTokens: 4, BatchSize: 8));
        using var single = new OnnxCaptioner(new OnnxCaptionerOptions(Folder, MaxTokens: 4, BatchSize: 1));
        var images = new[] { Solid(200, 0, 0), Solid(0, 0, 200), Solid(90, 90, 90, 3, 3), Solid(0, 0, 120, 1, 1) };
        Assert.Equal(single.Caption(images), batched.Caption(images));
    }

    [Fact]
    public void Caption_reward_on_the_onnx_captioner_keeps_the_caption()
    {
        using var captioner = new OnnxCaptioner(new OnnxCaptionerOptions(Folder, MaxTokens: 5));
        var embedder = new FakeEmbedder(new()
        {
            ["a red circle"] = [1, 0],
            ["a blue square big big"] = [0, 1],
        });
        var scores = new CaptionReward(captioner, embedder).Score("a red circle", [Solid(255, 0, 0), Solid(0, 0, 255)]);
        Assert.Equal("a red circle", scores[0].Evidence.Caption);
        Assert.Equal(1.0, scores[0].Score, 6);
        Assert.Equal(0.0, scores[1].Score, 6);
    }

    [Fact]
    public void A_decoder_without_logits_is_refused_at_load()
    {
        string folder = Directory.CreateTempSubdirectory("captioner-wrong-").FullName;
        try
        {
            foreach (var f in new[] { "vocab.txt", "config.json", "preprocessor_config.json" }) File.Copy(Path.Combine(Folder, f), Path.Combine(folder, f));
            File.Copy(Path.Combine(Folder, "onnx", "encoder_model.onnx"), Path.Combine(folder, "encoder_model.onnx"));
            File.Copy(Path.Combine(Folder, "onnx", "encoder_model.onnx"), Path.Combine(folder, "decoder_model.onnx"));
            var e = Assert.Throws<InputException>(() => new OnnxCaptioner(new OnnxCaptionerOptions(folder)));
            Assert.Contains("decoder_model.onnx", e.Message);
            Assert.Contains("missing input_ids", e.Message);
            Assert.Contains("missing logits", e.Message);
            Assert.Contains("unexpected input pixel_values", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }
}
