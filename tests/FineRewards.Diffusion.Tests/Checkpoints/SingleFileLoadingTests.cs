using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Tokenizer;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Checkpoints;

public sealed class SingleFileLoadingTests
{
    [Fact]
    public void The_tiny_files_architecture_comes_from_its_tensor_shapes_alone()
    {
        var arch = SingleFileCheckpoint.ReadArchitecture(SingleFileFixture.TinyFile);
        var expected = SingleFileFixture.TinyConfigs;
        Assert.Equal(SdFamily.Sd1, arch.Family);

        var unet = expected["unet"]!;
        Assert.Equal(unet["in_channels"]!.GetValue<int>(), arch.Unet.InChannels);
        Assert.Equal(unet["out_channels"]!.GetValue<int>(), arch.Unet.OutChannels);
        Assert.Equal(Ints(unet["block_out_channels"]), arch.Unet.BlockOutChannels);
        Assert.Equal([unet["layers_per_block"]!.GetValue<int>()], arch.Unet.LayersPerBlock);
        Assert.Equal(Strings(unet["down_block_types"]), arch.Unet.DownBlockTypes);
        Assert.Equal(Strings(unet["up_block_types"]), arch.Unet.UpBlockTypes);
        Assert.Equal([unet["cross_attention_dim"]!.GetValue<int>()], arch.Unet.CrossAttentionDim);
        Assert.Equal([unet["transformer_layers_per_block"]!.GetValue<int>()], arch.Unet.TransformerLayersPerBlock);
        Assert.Equal(unet["use_linear_projection"]!.GetValue<bool>(), arch.Unet.UseLinearProjection);
        Assert.Equal(unet["mid_block_type"]!.GetValue<string>(), arch.Unet.MidBlockType);

        var vae = expected["vae"]!;
        Assert.Equal(Ints(vae["block_out_channels"]), arch.Vae.BlockOutChannels);
        Assert.Equal(vae["layers_per_block"]!.GetValue<int>(), arch.Vae.LayersPerBlock);
        Assert.Equal(vae["latent_channels"]!.GetValue<int>(), arch.Vae.LatentChannels);
        Assert.Equal(vae["in_channels"]!.GetValue<int>(), arch.Vae.InChannels);
        Assert.Equal(vae["out_channels"]!.GetValue<int>(), arch.Vae.OutChannels);
        Assert.Equal(Strings(vae["down_block_types"]), arch.Vae.DownBlockTypes);
        Assert.Equal(vae["scaling_factor"]!.GetValue<double>(), arch.Vae.ScalingFactor);

        // The tiny CLIP of ../clip: vocabulary 1,000, width 32, 2 layers, MLP 64, quick_gelu.
        Assert.Equal((1000, 32, 2, 64, "quick_gelu"), (arch.TextEncoder.VocabSize, arch.TextEncoder.HiddenSize,
            arch.TextEncoder.NumHiddenLayers, arch.TextEncoder.IntermediateSize, arch.TextEncoder.HiddenAct));

        // What no single file stores is reported as assumed, never passed off as read.
        var assumed = arch.Assumed.Select(a => a.Field).ToHashSet();
        foreach (var field in new[] { "unet.attention_head_dim", "unet.norm_num_groups", "vae.norm_num_groups", "text_encoder.num_attention_heads", "prediction_type" })
            Assert.Contains(field, assumed);
        Assert.DoesNotContain(assumed, a => a.Contains("block_out_channels") || a.Contains("layers_per_block") || a.Contains("cross_attention_dim"));
    }

    [Fact]
    public void With_the_configs_it_was_made_with_the_tiny_file_loads_to_exactly_them()
    {
        var arch = SingleFileCheckpoint.ReadArchitecture(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        var unet = SingleFileFixture.TinyConfigs["unet"]!;
        Assert.Equal([unet["attention_head_dim"]!.GetValue<int>()], arch.Unet.AttentionHeadDim);
        Assert.Equal(unet["norm_num_groups"]!.GetValue<int>(), arch.Unet.NormNumGroups);
        Assert.Equal(unet["sample_size"]!.GetValue<int>(), arch.Unet.SampleSize);
        Assert.Equal(4, arch.TextEncoder.NumAttentionHeads);
        Assert.DoesNotContain(arch.Assumed, a => a.Field.StartsWith("unet.") || a.Field.StartsWith("vae."));
    }

    [Fact]
    public void A_config_that_contradicts_the_tensors_is_refused_naming_the_field()
    {
        var wrong = new SingleFileConfig(Unet: new JsonObject { ["block_out_channels"] = new JsonArray(8, 16, 32, 32) });
        var e = Assert.Throws<FineRewards.Contracts.InputException>(() => SingleFileCheckpoint.ReadArchitecture(SingleFileFixture.TinyFile, wrong));
        Assert.Contains("unet.block_out_channels", e.Message);
        Assert.Contains("tiny_sd1_single_file.safetensors", e.Message);
    }

    [Fact]
    public void The_tiny_files_unet_vae_and_text_encoder_match_the_diffusers_outputs()
    {
        using var models = SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        Assert.Equal(ScalarType.Float32, models.Unet.parameters().First().dtype);
        var reference = StateDictLoader.ReadSafetensors(SingleFileFixture.TinyOutputs);
        try
        {
            using var _ = no_grad();
            using var unetOut = models.Unet.forward(reference["unet.sample"], reference["unet.timestep"], reference["unet.encoder_hidden_states"]);
            AssertClose(unetOut, reference["unet.out"], 1e-4, "unet.out");
            var (mean, logVar) = models.Vae.Encode(reference["vae.image"]);
            using (mean) using (logVar)
                AssertClose(mean, reference["vae.encode_mean"], 1e-4, "vae.encode_mean");
            using var decoded = models.Vae.Decode(reference["vae.latents"]);
            AssertClose(decoded, reference["vae.decode"], 1e-4, "vae.decode");
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }

        // The text encoder is ../clip's tiny CLIP: its reference outputs are in that fixture (ids below 1,000).
        var clip = StateDictLoader.ReadSafetensors(Fixture.Path("clip", "clip_text_tiny.safetensors"));
        try
        {
            using var _ = no_grad();
            using var output = models.TextEncoder.forward(clip["input.input_ids"]);
            AssertClose(output.LastHiddenState, clip["output.last_hidden_state"], 1e-5, "text_encoder last_hidden_state");
            AssertClose(output.PooledOutput, clip["output.pooler_output"], 1e-5, "text_encoder pooler_output");
        }
        finally
        {
            foreach (var t in clip.Values) t.Dispose();
        }
    }

    [Fact]
    public void The_same_weights_written_as_a_diffusers_folder_give_the_same_images()
    {
        string root = Path.Combine(Path.GetTempPath(), "fr-single-file-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tokenizerFolder = Path.Combine(root, "vocab");
            var (vocab, merges) = ClipVocabularyBuilder.Train(new Dictionary<string, int> { ["a"] = 1, ["red"] = 1, ["circle"] = 1 });
            ClipVocabularyBuilder.WriteFiles(tokenizerFolder, vocab, merges);
            var tokenizer = ClipTokenizer.FromFiles(Path.Combine(tokenizerFolder, "vocab.json"), Path.Combine(tokenizerFolder, "merges.txt"));
            var request = new GenerationRequest("a red circle", K: 2, BaseSeed: 11, Sampler: "euler", Steps: 3, Guidance: 3.0, Width: 64, Height: 64);

            using var single = SingleFilePipeline.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride, tokenizer: tokenizer);
            var fromFile = single.Generate(request);
            var folder = Path.Combine(root, "tiny-diffusers");
            StableDiffusionFolderWriter.Write(folder, single.Unet, single.Vae, single.TextEncoder, tokenizerFolder, single.SchedulerConfig);
            using var diffusers = StableDiffusionPipeline.FromDiffusersFolder(folder);
            var fromFolder = diffusers.Generate(request);

            Assert.Equal(2, fromFile.Count);
            for (int i = 0; i < 2; i++)
                Assert.Equal(fromFile[i].Image.Pixels, fromFolder[i].Image.Pixels);
            Assert.NotEqual(fromFile[0].Image.Pixels, fromFile[1].Image.Pixels);   // two seeds, two images
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_bfloat16_pipeline_generates_what_the_float32_one_does_within_rounding()
    {
        string folder = Path.Combine(Path.GetTempPath(), "fr-bf16-vocab-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (vocab, merges) = ClipVocabularyBuilder.Train(new Dictionary<string, int> { ["a"] = 1, ["red"] = 1, ["circle"] = 1 });
            ClipVocabularyBuilder.WriteFiles(folder, vocab, merges);
            ClipTokenizer Tokenizer() => ClipTokenizer.FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"));
            var request = new GenerationRequest("a red circle", K: 1, BaseSeed: 4, Sampler: "ddim", Steps: 3, Guidance: 3.0, Width: 64, Height: 64);
            using var full = SingleFilePipeline.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride, tokenizer: Tokenizer());
            using var half = SingleFilePipeline.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride, dtype: ScalarType.BFloat16, tokenizer: Tokenizer());
            Assert.Equal(ScalarType.BFloat16, half.UnetDtype);
            var a = full.Generate(request)[0].Image.Pixels;
            var b = half.Generate(request)[0].Image.Pixels;
            double meanDiff = a.Zip(b).Average(p => Math.Abs(p.First - p.Second));
            Assert.True(meanDiff < 8, $"bfloat16 images differ from float32 by {meanDiff:F2} levels on average");
            Assert.True(a.Distinct().Count() > 10, "the float32 image is flat");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Bfloat16_on_the_cpu_is_a_choice_and_float16_is_refused_there()
    {
        using (var models = SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride, dtype: ScalarType.BFloat16))
        {
            Assert.All(models.Unet.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
            Assert.All(models.TextEncoder.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        }
        var e = Assert.Throws<FineRewards.Contracts.InputException>(() => SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, dtype: ScalarType.Float16));
        Assert.Contains("GPU", e.Message);
    }

    static int[] Ints(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
    static string[] Strings(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
}
