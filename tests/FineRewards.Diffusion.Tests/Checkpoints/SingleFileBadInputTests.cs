using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Checkpoints;

/// <summary>Files that are not SD 1.x/2.x checkpoints: each error names the file and says what was expected.</summary>
public sealed class SingleFileBadInputTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "fr-bad-single-" + Guid.NewGuid().ToString("N"));

    public SingleFileBadInputTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    string Write(string name, IReadOnlyDictionary<string, long[]> shapes, ScalarType dtype = ScalarType.Float16)
    {
        var tensors = shapes.ToDictionary(kv => kv.Key, kv => zeros(kv.Value, dtype: dtype));
        try
        {
            var path = Path.Combine(_folder, name);
            SafetensorsFile.Write(path, tensors);
            return path;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>The tiny fixture with some tensors changed (null drops one).</summary>
    string TinyWith(string name, Func<string, Tensor, Tensor?> change)
    {
        var all = StateDictLoader.ReadSafetensors(SingleFileFixture.TinyFile);
        var changed = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (key, t) in all)
                if (change(key, t) is { } kept) changed[key] = kept;
            var path = Path.Combine(_folder, name);
            SafetensorsFile.Write(path, changed);
            return path;
        }
        finally
        {
            // Tensor.Equals compares values, so identity decides what was made here.
            foreach (var t in all.Values.Concat(changed.Values.Where(c => !all.Values.Any(a => ReferenceEquals(a, c))))) t.Dispose();
        }
    }

    [Fact]
    public void A_truncated_file_is_refused_before_anything_is_built()
    {
        var path = Path.Combine(_folder, "truncated.safetensors");
        var bytes = File.ReadAllBytes(SingleFileFixture.TinyFile);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        var e = Assert.Throws<InvalidDataException>(() => SingleFileCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_safetensors_is_refused()
    {
        var path = Path.Combine(_folder, "noise.safetensors");
        File.WriteAllBytes(path, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => SingleFileCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        var ckpt = Path.Combine(_folder, "model.ckpt");
        File.WriteAllBytes(ckpt, [1, 2, 3]);
        Assert.Contains("pickle", Assert.Throws<InputException>(() => SingleFileCheckpoint.Load(ckpt)).Message);
    }

    [Theory]
    [InlineData("sdxl", "SDXL")]
    [InlineData("sd3", "Stable Diffusion 3")]
    [InlineData("lora", "LoRA")]
    [InlineData("unet-only", "no VAE")]
    public void A_file_of_another_family_is_named_for_what_it_is(string kind, string expected)
    {
        var shapes = kind switch
        {
            "sdxl" => new Dictionary<string, long[]>
            {
                ["model.diffusion_model.input_blocks.0.0.weight"] = [8, 4, 3, 3],
                ["model.diffusion_model.label_emb.0.0.weight"] = [32, 16],
                ["conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"] = [10, 8],
                ["first_stage_model.encoder.conv_in.weight"] = [8, 3, 3, 3],
            },
            "sd3" => new Dictionary<string, long[]>
            {
                ["model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight"] = [24, 8],
                ["model.diffusion_model.x_embedder.proj.weight"] = [8, 16, 2, 2],
                ["text_encoders.clip_l.transformer.text_model.final_layer_norm.weight"] = [8],
            },
            "lora" => new Dictionary<string, long[]>
            {
                ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"] = [4, 8],
                ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight"] = [8, 4],
                ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha"] = [],
            },
            _ => new Dictionary<string, long[]> { ["model.diffusion_model.input_blocks.0.0.weight"] = [8, 4, 3, 3] },
        };
        var path = Write(kind + ".safetensors", shapes);
        var e = Assert.Throws<InputException>(() => SingleFileCheckpoint.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("expected a Stable Diffusion 1.x/2.x single-file checkpoint", e.Message);
    }

    [Fact]
    public void Weights_of_an_unreadable_dtype_are_named_with_the_dtypes_expected()
    {
        var path = TinyWith("int-weights.safetensors", (key, t) =>
            key == "model.diffusion_model.out.2.weight" ? t.to(ScalarType.Int64) : t);
        var e = Assert.Throws<InputException>(() => SingleFileCheckpoint.Load(path, SingleFileFixture.TinyOverride));
        Assert.Contains(path, e.Message);
        Assert.Contains("model.diffusion_model.out.2.weight is I64", e.Message);
        Assert.Contains("F16, BF16, F32", e.Message);
    }

    [Fact]
    public void A_missing_or_misshapen_tensor_lists_every_problem_and_leaves_no_model_behind()
    {
        var path = TinyWith("damaged.safetensors", (key, t) => key switch
        {
            "model.diffusion_model.out.2.bias" => null,
            "first_stage_model.decoder.conv_out.bias" => zeros(5, dtype: t.dtype),
            _ => t,
        });
        // Building and disposing the models leaves a few tensor wrappers of the model classes themselves
        // (GroupNorm initialisation) to the finaliser; a failed load must leave nothing beyond that.
        var arch = SingleFileCheckpoint.ReadArchitecture(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        long baselineStart = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        SingleFileCheckpoint.Build(arch).Dispose();
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount - baselineStart;
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var e = Assert.Throws<CheckpointMismatchException>(() => SingleFileCheckpoint.Load(path, SingleFileFixture.TinyOverride));
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount - baseline;
        Assert.Contains(path, e.Message);
        Assert.Contains(e.Problems, p => p.Contains("unet.conv_out.bias"));
        Assert.Contains(e.Problems, p => p.Contains("first_stage_model.decoder.conv_out.bias") && p.Contains("[5]"));
        Assert.True(liveAfter <= liveBefore, $"live tensors grew from {liveBefore} to {liveAfter}: a failed load left modules behind");
    }
}
