using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Tests.Pipelines;
using FineRewards.Diffusion.Training;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Training;

/// <summary>Issue 18: a generated candidate carries the latents it was decoded from, and training uses them instead of re-encoding it.</summary>
public class LatentTrainingTests : IDisposable
{
    readonly TinyModelFolder folder = new();
    readonly StableDiffusionPipeline pipeline;

    public LatentTrainingTests() => pipeline = folder.Load();

    public void Dispose()
    {
        pipeline.Dispose();
        folder.Dispose();
    }

    [Fact]
    public void A_candidates_stored_latents_decode_to_exactly_its_png()
    {
        var candidates = pipeline.Generate(new GenerationRequest("a red circle", K: 2, BaseSeed: 3, Steps: 2, Width: 16, Height: 16));
        Assert.All(candidates, c =>
        {
            Assert.NotNull(c.Latents);
            Assert.Equal((pipeline.Vae.Config.LatentChannels, 16 / pipeline.SizeMultiple, 16 / pipeline.SizeMultiple), (c.Latents!.Channels, c.Latents.Height, c.Latents.Width));
            string file = Path.Combine(folder.Root, $"c{c.Index}{LatentFile.Extension}");
            string sha = LatentFile.Write(file, c.Latents);
            var stored = LatentFile.Read(file, sha);
            var png = PngCodec.Decode(PngCodec.Encode(c.Image)).Image;
            Assert.Equal(png.Pixels, pipeline.DecodeLatents(stored).Pixels);
        });
        Assert.NotEqual(candidates[0].Latents!.Data, candidates[1].Latents!.Data);
    }

    [Fact]
    public void Only_pairs_without_latents_are_encoded_and_the_latents_are_learned_as_given()
    {
        var generated = pipeline.Generate(new GenerationRequest("a red circle", K: 1, BaseSeed: 1, Steps: 2, Width: 16, Height: 16))[0];
        var outside = new RgbImage(16, 16, Enumerable.Repeat((byte)90, 16 * 16 * 3).ToArray());
        var encoded = new List<RgbImage>();
        var trainer = new LoraTrainer(pipeline)
        {
            EncodeImage = image =>
            {
                encoded.Add(image);
                var (mean, _) = pipeline.Vae.Encode(ImageTensors.FromRgbImage(image, pipeline.Device));
                return mean * pipeline.Vae.ScalingFactor;
            },
        };
        var withLatents = new TrainingPair("a red circle", generated.Image, generated.Latents);
        trainer.Train([withLatents, new TrainingPair("a grey square", outside)], new LoraTrainingOptions(Steps: 2), Path.Combine(folder.Root, "a.safetensors"));
        Assert.Same(outside, Assert.Single(encoded));

        // The latents, not the image, are what is learned: other pixels with the same latents train the same adapter.
        var other = new TrainingPair("a red circle", outside, generated.Latents);
        trainer.Train([withLatents], new LoraTrainingOptions(Steps: 3), Path.Combine(folder.Root, "b.safetensors"));
        trainer.Train([other], new LoraTrainingOptions(Steps: 3), Path.Combine(folder.Root, "c.safetensors"));
        Assert.Single(encoded);
        Assert.Equal(Weights(Path.Combine(folder.Root, "b.safetensors")), Weights(Path.Combine(folder.Root, "c.safetensors")));
    }

    [Fact]
    public void Latents_that_do_not_fit_the_image_are_refused_by_field()
    {
        var image = new RgbImage(16, 16, new byte[16 * 16 * 3]);
        var wrong = CandidateLatents.Create(new float[3 * 2 * 2], 3, 2, 2);
        var e = Assert.Throws<FineRewards.Contracts.InputException>(() =>
            new LoraTrainer(pipeline).Train([new TrainingPair("a", image, wrong)], new LoraTrainingOptions(Steps: 1), Path.Combine(folder.Root, "x.safetensors")));
        Assert.Equal("pairs[0].latents", e.Field);
    }

    [Fact]
    public void Prompt_dropout_changes_what_is_learned_and_repeats_with_the_seed()
    {
        var generated = pipeline.Generate(new GenerationRequest("a red circle", K: 1, BaseSeed: 1, Steps: 2, Width: 16, Height: 16))[0];
        var pair = new TrainingPair("a red circle", generated.Image, generated.Latents);
        string Train(string name, double dropout) =>
            new LoraTrainer(pipeline).Train([pair], new LoraTrainingOptions(LearningRate: 1e-2, Steps: 6, PromptDropout: dropout), Path.Combine(folder.Root, name));
        var none = Weights(Train("none.safetensors", 0));
        var half = Weights(Train("half.safetensors", 0.5));
        Assert.Equal(half, Weights(Train("half2.safetensors", 0.5)));
        Assert.NotEqual(none, half);
    }

    static byte[] Weights(string path)
    {
        var header = SafetensorsLayout.ReadHeader(path);
        var bytes = File.ReadAllBytes(path);
        // Skip the header (its metadata names the data hash, which differs between images); compare the tensor data.
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.NotEmpty(header.Tensors);
        return bytes[(int)(8 + headerLength)..];
    }
}
