using FineRewards.Core.IO;
using FineRewards.Rewards.Onnx;

namespace FineRewards.Rewards.Tests.Onnx;

public sealed class OnnxSamTests
{
    static readonly IReadOnlyDictionary<string, RawTensor> Ref = Reference.Read(Path.Combine(Reference.Sam, "reference.safetensors")).Tensors;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Preprocessing_and_image_embeddings_match_the_reference(int index)
    {
        using var sam = new OnnxSam(new OnnxSamOptions(Reference.Sam));
        var image = Reference.Image(index);
        var pixels = new float[3 * 1024 * 1024];
        sam.Processor.Preprocess(image, pixels);

        var patch = Ref[$"image{index}.pixel_values.patch"].Floats();   // [1,3,32,32] rows and columns 480..511
        var mine = new float[patch.Length];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    mine[(c * 32 + y) * 32 + x] = pixels[c * 1024 * 1024 + (480 + y) * 1024 + 480 + x];
        Assert.True(Reference.MaxAbsDiff(mine, patch) <= 3e-6, $"patch differs by {Reference.MaxAbsDiff(mine, patch)}");
        var sums = Ref[$"image{index}.pixel_values.channel_sums"].Floats();
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < 1024 * 1024; i++) sum += pixels[c * 1024 * 1024 + i];
            Assert.True(Math.Abs(sum - sums[c]) <= 1e-6 * 1024 * 1024, $"channel {c} sum {sum}, reference {sums[c]}");
        }

        var embedding = sam.Encode(image);
        Assert.Equal([1, 32, 64, 64], embedding.Shape);
        double diff = Reference.MaxAbsDiff(embedding.Values, Ref[$"image{index}.image_embeddings"].Floats());
        Assert.True(diff <= 3e-6, $"embedding differs by {diff}");
    }

    [Theory]
    [InlineData("image0.point", 0)]
    [InlineData("image1.box", 1)]
    [InlineData("image3.box", 3)]
    public void Decoder_reproduces_the_reference_masks_from_prompts_in_image_pixels(string prompt, int index)
    {
        using var sam = new OnnxSam(new OnnxSamOptions(Reference.Sam));
        var image = Reference.Image(index);
        var embedding = new SamEmbedding(Ref[$"image{index}.image_embeddings"].Floats(), [1, 32, 64, 64], image.Width, image.Height);
        var coords = Ref[$"{prompt}.point_coords"].Floats();
        var labels = Ref[$"{prompt}.point_labels"].Floats();
        var expected = Ref[$"{prompt}.masks"].Floats();

        var raw = sam.DecodeRaw(embedding, coords, labels, Ref[$"{prompt}.mask_input"].Floats(), Ref[$"{prompt}.has_mask_input"].Floats()[0]);
        Assert.True(Reference.MaxAbsDiff(raw.Logits, expected) <= 3e-6);
        Assert.Equal(Ref[$"{prompt}.iou_predictions"].Floats()[0], raw.PredictedIou, 5);

        // The same prompt given in the original image's pixels (the padding point is added for point prompts).
        var (rw, rh) = sam.Processor.ResizedSize(image.Width, image.Height);
        var points = Enumerable.Range(0, labels.Length).Where(i => labels[i] >= 0)
            .Select(i => new SamPoint(coords[i * 2] * image.Width / rw, coords[i * 2 + 1] * image.Height / rh, (int)labels[i])).ToList();
        var mask = sam.Decode(embedding, points);
        Assert.True(Reference.MaxAbsDiff(mask.Logits, expected) <= 1e-4, $"differs by {Reference.MaxAbsDiff(mask.Logits, expected)}");
    }
}
