using FineRewards.Core;
using FineRewards.Contracts;
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

/// <summary>
/// Decoding with past key values on the tiny exports of Fixtures/captioner-past (made by its
/// make_tiny_captioner_past.py): Optimum's decoder_model + decoder_with_past_model pair and its merged decoder. The
/// blue caption ends only after four "big" tokens counted from the self-attention cache, so a cache that loses or
/// repeats tokens changes the captions.
/// </summary>
public sealed class OnnxCaptionerCacheTests
{
    static string Fixture(string layout) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "captioner-past", layout);

    static RgbImage Solid(byte r, byte g, byte b, int w = 20, int h = 12) =>
        new(w, h, Enumerable.Range(0, w * h).SelectMany(_ => new[] { r, g, b }).ToArray());

    static readonly RgbImage[] Images = [Solid(250, 10, 10), Solid(10, 10, 250, 7, 31), Solid(200, 0, 0), Solid(0, 0, 120, 1, 1)];

    [Theory]
    [InlineData("with-past")]
    [InlineData("merged")]
    public void Decoding_with_the_cache_gives_the_captions_of_decoding_without_it(string layout)
    {
        using var cached = new OnnxCaptioner(new OnnxCaptionerOptions(Fixture(layout)));
        using var prefix = new OnnxCaptioner(new OnnxCaptionerOptions(Fixture(layout), UseCache: false));
        Assert.True(cached.UsesCache);
        Assert.False(prefix.UsesCache);
        string[] expected = ["a red circle", "a blue square big big big big", "a red circle", "a blue square big big big big"];
        Assert.Equal(expected, prefix.Caption(Images));
        Assert.Equal(expected, cached.Caption(Images));

        var ids = cached.Generate(Images);
        Assert.Equal([5, 6, 7, 3], ids[0]);                     // a red circle [SEP]: the batch's other rows go on without it
        Assert.Equal([5, 8, 9, 10, 10, 10, 10, 3], ids[1]);     // the fourth "big" ends it: all four came through the cache
    }

    [Theory]
    [InlineData("with-past")]
    [InlineData("merged")]
    public void Cached_decoding_stops_at_the_length_limit_and_batches_like_one_image_at_a_time(string layout)
    {
        using var batched = new OnnxCaptioner(new OnnxCaptionerOptions(Fixture(layout), MaxTokens: 5, BatchSize: 8));
        using var single = new OnnxCaptioner(new OnnxCaptionerOptions(Fixture(layout), MaxTokens: 5, BatchSize: 1));
        var ids = batched.Generate(Images);
        Assert.Equal(5, ids[1].Count);   // a blue square big big: cut before its end
        Assert.Equal(["a red circle", "a blue square big big", "a red circle", "a blue square big big"], batched.Caption(Images));
        Assert.Equal(single.Caption(Images), batched.Caption(Images));
    }

    [Fact]
    public void A_with_past_decoder_whose_first_step_gives_no_presents_is_refused_at_load()
    {
        string folder = Directory.CreateTempSubdirectory("captioner-past-wrong-").FullName;
        try
        {
            string source = Fixture("with-past");
            foreach (var f in new[] { "vocab.txt", "config.json", "preprocessor_config.json" }) File.Copy(Path.Combine(source, f), Path.Combine(folder, f));
            Directory.CreateDirectory(Path.Combine(folder, "onnx"));
            File.Copy(Path.Combine(source, "onnx", "encoder_model.onnx"), Path.Combine(folder, "onnx", "encoder_model.onnx"));
            File.Copy(Path.Combine(source, "onnx", "decoder_with_past_model.onnx"), Path.Combine(folder, "onnx", "decoder_with_past_model.onnx"));
            // The plain captioner's decoder outputs logits only: nothing to start the cache from.
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "captioner", "onnx", "decoder_model.onnx"), Path.Combine(folder, "onnx", "decoder_model.onnx"));
            var e = Assert.Throws<InputException>(() => new OnnxCaptioner(new OnnxCaptionerOptions(folder)));
            Assert.Contains("decoder_model.onnx", e.Message);
            Assert.Contains("present.0.decoder.key", e.Message);
            // Without the cache the same folder decodes with the plain decoder.
            using var prefix = new OnnxCaptioner(new OnnxCaptionerOptions(folder, MaxTokens: 3, UseCache: false));
            Assert.Equal("a red circle", prefix.Caption([Solid(255, 0, 0)])[0]);
        }
        finally { Directory.Delete(folder, true); }
    }
}
