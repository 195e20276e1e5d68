using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Rewards.Embedders;
using FineRewards.Core.IO;
using FineRewards.Rewards.Onnx;

namespace FineRewards.Rewards.Tests.Onnx;

public sealed class OnnxClipTests
{
    static readonly (IReadOnlyDictionary<string, RawTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Ref =
        Reference.Read(Path.Combine(Reference.Clip, "reference.safetensors"));

    static string[] Prompts => JsonSerializer.Deserialize<string[]>(Ref.Metadata["prompts"])!;

    /// <summary>The fixture's reference tokens stand in for the tokenizer (its parity is tested in the host, which owns the tokenizer).</summary>
    static int[] ReferenceTokens(string text, int length)
    {
        int i = Array.IndexOf(Prompts, text);
        Assert.True(i >= 0, $"no reference tokens for \"{text}\"");
        return Ref.Tensors["input_ids"].Longs().Skip(i * 77).Take(77).Select(v => (int)v).ToArray();
    }

    static OnnxClip Load() => new(new OnnxClipOptions(Reference.Clip), ReferenceTokens);

    [Fact]
    public void Preprocessing_reproduces_the_reference_pixel_values_for_every_image_size()
    {
        var processor = ClipImageProcessor.Load(Path.Combine(Reference.Clip, "preprocessor_config.json"));
        var expected = Ref.Tensors["pixel_values"].Floats();
        int length = processor.Length;
        for (int i = 0; i < 4; i++)
        {
            var image = Reference.Image(i);
            var pixels = new float[length];
            processor.Preprocess(image, pixels);
            double diff = Reference.MaxAbsDiff(pixels, expected.AsSpan(i * length, length));
            Assert.True(diff <= 3e-6, $"image{i} ({image.Width}x{image.Height}): max |diff| {diff}");
        }
    }

    [Fact]
    public void Embeddings_and_cosines_match_the_reference()
    {
        using var clip = Load();
        Assert.Equal(16, clip.Dimension);
        Assert.Equal(100, clip.LogitScale, 6);
        var images = Enumerable.Range(0, 4).Select(Reference.Image).ToList();
        var pictures = clip.EmbedImages(images);
        var texts = clip.EmbedTexts(Prompts);
        var cosine = Ref.Tensors["cosine"].Floats();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.True(Math.Abs(Embeddings.Cosine(pictures[i], texts[j]) - cosine[i * 4 + j]) <= 3e-6,
                    $"cos(image{i}, prompt{j}) = {Embeddings.Cosine(pictures[i], texts[j])}, reference {cosine[i * 4 + j]}");

        // The raw graph output on the reference input, normalised, is the reference embedding normalised.
        var reference = Ref.Tensors["image_embeds"].Floats();
        var fromReference = clip.RunVision(Ref.Tensors["pixel_values"].Floats(), 4);
        for (int i = 0; i < 4; i++)
        {
            var row = reference.AsSpan(i * 16, 16).ToArray();
            float norm = MathF.Sqrt(row.Sum(v => v * v));
            Assert.True(Reference.MaxAbsDiff(fromReference[i], row.Select(v => v / norm).ToArray()) <= 3e-6);
        }
    }

    [Fact]
    public void Zero_shot_probabilities_are_a_softmax_over_scaled_cosines()
    {
        using var clip = Load();
        var image = clip.EmbedImages([Reference.Image(0)])[0];
        var labels = clip.EmbedTexts(Prompts);
        var p = OnnxClip.ZeroShot(image, labels, clip.LogitScale);
        Assert.Equal(1.0, p.Sum(), 9);
        var cos = labels.Select(l => Embeddings.Cosine(image, l)).ToArray();
        Assert.Equal(Array.IndexOf(cos, cos.Max()), Array.IndexOf(p, p.Max()));
        Assert.Equal(Math.Exp(100 * (cos[0] - cos[1])), p[0] / p[1], 6);
    }

    [Fact]
    public void A_graph_of_another_role_is_refused_at_load_with_expected_and_found_signatures()
    {
        string folder = Directory.CreateTempSubdirectory("clip-wrong-").FullName;
        try
        {
            File.Copy(Path.Combine(Reference.Sam, "onnx", "vision_encoder.onnx"), Path.Combine(folder, "vision_model.onnx"));
            File.Copy(Path.Combine(Reference.Clip, "onnx", "text_model.onnx"), Path.Combine(folder, "text_model.onnx"));
            var e = Assert.Throws<InputException>(() => new OnnxClip(new OnnxClipOptions(folder), ReferenceTokens));
            Assert.Contains("vision_model.onnx", e.Message);
            Assert.Contains("pixel_values [?,3,224,224]", e.Message);         // expected
            Assert.Contains("pixel_values [1,3,1024,1024]", e.Message);       // found
            Assert.Contains("image_embeds", e.Message);
            Assert.Contains("image_embeddings", e.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void Missing_and_corrupt_graphs_are_reported_with_their_path()
    {
        string folder = Directory.CreateTempSubdirectory("clip-bad-").FullName;
        try
        {
            var missing = Assert.Throws<InputException>(() => new OnnxClip(new OnnxClipOptions(folder), ReferenceTokens));
            Assert.Contains(Path.Combine(folder, "onnx", "vision_model.onnx"), missing.Message);
            File.WriteAllBytes(Path.Combine(folder, "vision_model.onnx"), [1, 2, 3, 4, 5, 6, 7, 8]);
            var corrupt = Assert.Throws<InputException>(() => new OnnxClip(new OnnxClipOptions(folder), ReferenceTokens));
            Assert.Contains(Path.Combine(folder, "vision_model.onnx"), corrupt.Message);
            Assert.Contains("corrupt", corrupt.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void Grey_alpha_odd_sized_and_tiny_images_are_embedded()
    {
        using var clip = Load();
        var images = new[] { (1, 1), (3, 500), (501, 2), (224, 224) }
            .Select(s => new FineRewards.Contracts.RgbImage(s.Item1, s.Item2, Enumerable.Range(0, s.Item1 * s.Item2 * 3).Select(i => (byte)(i * 7)).ToArray()))
            .ToList();
        var vectors = clip.EmbedImages(images);
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5));
    }
}
