using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;

namespace FineRewards.Diffusion.Tests.Pipelines;

public sealed class TinyPipelineFixture : IDisposable
{
    public TinyModelFolder Folder { get; } = new();
    public StableDiffusionPipeline Pipeline { get; }

    public TinyPipelineFixture() => Pipeline = Folder.Load(new PipelineOptions(MaxBatchSize: 2, MaxCandidates: 16));

    public void Dispose()
    {
        Pipeline.Dispose();
        Folder.Dispose();
    }
}

/// <summary>Collects progress reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
sealed class ProgressLog<T>(Action<T>? onReport = null) : IProgress<T>
{
    public List<T> Reports { get; } = [];
    public void Report(T value)
    {
        Reports.Add(value);
        onReport?.Invoke(value);
    }
}

public class StableDiffusionPipelineTests(TinyPipelineFixture fixture) : IClassFixture<TinyPipelineFixture>
{
    readonly StableDiffusionPipeline pipeline = fixture.Pipeline;

    static GenerationRequest Request(int k = 3, string sampler = "ddim", double guidance = 7.5, string negative = "") =>
        new("a red circle left of the blue square", K: k, BaseSeed: 100, NegativePrompt: negative, Sampler: sampler,
            Steps: 4, Guidance: guidance, Width: 16, Height: 16);

    static bool Same(RgbImage a, RgbImage b) => a.Pixels.AsSpan().SequenceEqual(b.Pixels);

    [Fact]
    public void Generates_K_candidates_with_their_seeds_and_provenance()
    {
        var candidates = pipeline.Generate(Request(k: 3));
        Assert.Equal(3, candidates.Count);
        for (int i = 0; i < 3; i++)
        {
            var c = candidates[i];
            Assert.Equal(i, c.Index);
            Assert.Equal(100 + i, c.Seed);
            Assert.Equal((16, 16), (c.Image.Width, c.Image.Height));
            Assert.Equal((100 + i).ToString(), c.Provenance["seed"]);
            Assert.Equal("ddim", c.Provenance["sampler"]);
            Assert.Equal("4", c.Provenance["steps"]);
            Assert.Equal("7.5", c.Provenance["guidance"]);
            Assert.Equal("a red circle left of the blue square", c.Provenance["prompt"]);
            Assert.Equal("tiny-sd", c.Provenance["model"]);
            Assert.Matches("^[0-9a-f]{64}$", c.Provenance["model_hash"]);
            Assert.Equal("[]", c.Provenance["loras"]);
        }
        // Different seeds give different images; random weights still map noise to varied pixels.
        Assert.False(Same(candidates[0].Image, candidates[1].Image));
        Assert.True(candidates[0].Image.Pixels.Distinct().Count() > 10, "the image should not be flat");
    }

    [Theory]
    [InlineData("ddim")]
    [InlineData("euler")]
    [InlineData("euler_a")]
    [InlineData("dpmpp_2m")]
    public void A_candidate_regenerated_alone_equals_its_batched_self(string sampler)
    {
        // K = 3 with MaxBatchSize 2: candidate 1 shares a batch with 0, candidate 2 runs in the second chunk.
        var batch = pipeline.Generate(Request(k: 3, sampler: sampler));
        for (int i = 0; i < 3; i++)
        {
            var alone = pipeline.Regenerate(Request(k: 3, sampler: sampler), i);
            Assert.Equal(batch[i].Seed, alone.Seed);
            // Same seeds and noise; batched and single CPU kernels may round apart, so at most one 8-bit level on 0.1% of bytes (at least one byte).
            var diffs = batch[i].Image.Pixels.Zip(alone.Image.Pixels, (a, b) => Math.Abs(a - b)).Where(d => d > 0).ToList();
            Assert.True(diffs.Count <= Math.Max(1, batch[i].Image.Pixels.Length / 1000) && diffs.DefaultIfEmpty(0).Max() <= 1,
                $"{sampler}: candidate {i} differs when generated alone: {diffs.Count} of {batch[i].Image.Pixels.Length} bytes, max {diffs.DefaultIfEmpty(0).Max()}");
            Assert.Equal(batch[i].Provenance, alone.Provenance);
        }
    }

    [Fact]
    public void Guidance_uses_the_negative_prompt_and_guidance_one_skips_it()
    {
        var plain = pipeline.Generate(Request(k: 1, guidance: 5))[0];
        var negative = pipeline.Generate(Request(k: 1, guidance: 5, negative: "blurry green triangle"))[0];
        Assert.False(Same(plain.Image, negative.Image));
        Assert.Equal("blurry green triangle", negative.Provenance["negative_prompt"]);

        // Without guidance the negative prompt takes no part.
        var noGuidance = pipeline.Generate(Request(k: 1, guidance: 1))[0];
        var noGuidanceNegative = pipeline.Generate(Request(k: 1, guidance: 1, negative: "blurry green triangle"))[0];
        Assert.True(Same(noGuidance.Image, noGuidanceNegative.Image));
        Assert.False(Same(noGuidance.Image, plain.Image));
    }

    [Fact]
    public void Reports_progress_every_step_and_stops_when_cancelled()
    {
        var log = new ProgressLog<GenerationProgress>();
        pipeline.Generate(Request(k: 3), log);
        // Two chunks (2 + 1 candidates) of 4 steps, each followed by a chunk-done report.
        Assert.Equal(10, log.Reports.Count);
        Assert.Equal(new GenerationProgress(1, 4, 0, 3), log.Reports[0]);
        Assert.Equal(new GenerationProgress(4, 4, 2, 3), log.Reports[4]);
        Assert.Equal(new GenerationProgress(4, 4, 3, 3), log.Reports[^1]);

        using var cts = new CancellationTokenSource();
        var cancelling = new ProgressLog<GenerationProgress>(p => { if (p.Step == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate(Request(k: 2), cancelling, cts.Token));
        Assert.Equal(2, cancelling.Reports.Count);   // checked before every step: step 3 never ran
    }

    [Fact]
    public void Previews_decode_the_predicted_image_between_steps()
    {
        var previews = new List<GenerationPreview>();
        var candidates = pipeline.Generate(Request(k: 2), null, new PreviewOptions(EverySteps: 2, previews.Add));
        // 4 steps, every 2nd but not the last: after step 2, for both candidates.
        Assert.Equal(new[] { (2, 0), (2, 1) }, previews.Select(p => (p.Step, p.CandidateIndex)));
        Assert.Equal((16, 16), (previews[0].Image.Width, previews[0].Image.Height));
        var half = new List<GenerationPreview>();
        pipeline.Generate(Request(k: 1), null, new PreviewOptions(EverySteps: 1, half.Add, LatentDownscale: 2));
        Assert.Equal(3, half.Count);
        Assert.Equal((8, 8), (half[0].Image.Width, half[0].Image.Height));
        // Previews do not disturb the result.
        Assert.True(Same(candidates[0].Image, pipeline.Generate(Request(k: 1))[0].Image));
    }

    [Theory]
    [InlineData("width", 15, 16, 1, "a red circle", "ddim")]
    [InlineData("height", 16, 0, 1, "a red circle", "ddim")]
    [InlineData("k", 16, 16, 0, "a red circle", "ddim")]
    [InlineData("k", 16, 16, 17, "a red circle", "ddim")]
    [InlineData("prompt", 16, 16, 1, "  ", "ddim")]
    [InlineData("sampler", 16, 16, 1, "a red circle", "plms")]
    public void Bad_requests_name_the_field(string field, int width, int height, int k, string prompt, string sampler)
    {
        var e = Assert.Throws<InputException>(() => pipeline.Generate(
            new GenerationRequest(prompt, k, 1, Sampler: sampler, Steps: 2, Width: width, Height: height)));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void A_missing_lora_file_is_an_input_error_and_leaves_the_model_unchanged()
    {
        var before = pipeline.Generate(Request(k: 1))[0];
        var e = Assert.Throws<InputException>(() => pipeline.Generate(Request(k: 1) with { Loras = [new LoraReference("/nonexistent/x.safetensors")] }));
        Assert.Contains("x.safetensors", e.Message);
        Assert.True(Same(before.Image, pipeline.Generate(Request(k: 1))[0].Image));
    }
}

public class StableDiffusionFolderTests
{
    [Fact]
    public void Missing_parts_are_listed_in_one_error()
    {
        using var folder = new TinyModelFolder();
        Directory.Delete(Path.Combine(folder.Folder, "vae"), recursive: true);
        File.Delete(Path.Combine(folder.Folder, "tokenizer", "merges.txt"));
        var e = Assert.Throws<InputException>(() => StableDiffusionPipeline.FromDiffusersFolder(folder.Folder));
        Assert.Contains("vae/ folder is missing", e.Message);
        Assert.Contains("merges.txt is missing", e.Message);

        File.Delete(Path.Combine(folder.Folder, StableDiffusionFolder.ModelIndexName));
        e = Assert.Throws<InputException>(() => StableDiffusionPipeline.FromDiffusersFolder(folder.Folder));
        Assert.Contains("model_index.json", e.Message);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_is_named_with_both_shapes()
    {
        using var folder = new TinyModelFolder();
        var weights = Path.Combine(folder.Folder, "unet", "diffusion_pytorch_model.safetensors");
        var state = StateDictLoader.ReadSafetensors(weights);
        state["conv_in.weight"] = TorchSharp.torch.zeros(32, 4, 1, 1);
        SafetensorsFile.Write(weights, state);
        var e = Assert.Throws<CheckpointMismatchException>(() => StableDiffusionPipeline.FromDiffusersFolder(folder.Folder));
        Assert.Contains("conv_in.weight", e.Message);
        Assert.Contains("[32, 4, 1, 1]", e.Message);
        Assert.Contains("[32, 4, 3, 3]", e.Message);
    }

    [Fact]
    public void V_prediction_comes_from_the_scheduler_config()
    {
        using var epsilon = new TinyModelFolder(SchedulerConfig.StableDiffusion, seed: 3);
        using var v = new TinyModelFolder(SchedulerConfig.StableDiffusion with { PredictionType = "v_prediction" }, seed: 3);
        using var a = epsilon.Load();
        using var b = v.Load();
        Assert.True(b.SchedulerConfig.IsVPrediction);
        var request = new GenerationRequest("a red circle", 1, 5, Steps: 3, Width: 16, Height: 16);
        var x = a.Generate(request)[0];
        var y = b.Generate(request)[0];
        Assert.Equal("v_prediction", y.Provenance["prediction_type"]);
        Assert.False(x.Image.Pixels.AsSpan().SequenceEqual(y.Image.Pixels));   // same weights, same noise, other parameterisation
    }
}
