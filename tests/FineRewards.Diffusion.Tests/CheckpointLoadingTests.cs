using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

public class CheckpointLoadingTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("finerewards-unet-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Writes the fixture's parameters (optionally edited) as a plain diffusers-style weights file.</summary>
    private string WriteWeights(string fixture, Action<Dictionary<string, Tensor>>? edit = null)
    {
        using var recording = new Recording(fixture);
        var weights = new Dictionary<string, Tensor>(recording.Parameters);
        edit?.Invoke(weights);
        var path = Path.Combine(dir, "weights.safetensors");
        Safetensors.SaveStateDict(path, weights);
        return path;
    }

    [Fact]
    public void FromSafetensors_loads_fp16_weights_strictly_into_fp32()
    {
        var path = WriteWeights("unet_tiny.safetensors");
        using var model = UNet2DConditionModel.FromSafetensors(PathOf("unet_tiny.json"), path);
        var weight = model.state_dict()["conv_in.weight"];
        Assert.Equal(ScalarType.Float32, weight.dtype);
        Assert.False(model.training);

        using var recording = new Recording("unet_tiny.safetensors");
        AssertClose(weight, recording.Parameters["conv_in.weight"].to(ScalarType.Float32), 0.0, "conv_in.weight");
    }

    [Fact]
    public void A_missing_tensor_is_named_with_its_expected_shape()
    {
        var path = WriteWeights("unet_tiny.safetensors", w => w.Remove("mid_block.resnets.1.conv2.weight"));
        var e = Assert.Throws<CheckpointMismatchException>(() => UNet2DConditionModel.FromSafetensors(PathOf("unet_tiny.json"), path));
        var problem = Assert.Single(e.Problems);
        Assert.Contains("mid_block.resnets.1.conv2.weight", problem);
        Assert.Contains("[64, 64, 3, 3]", problem);
        Assert.Contains("missing", problem);
    }

    [Fact]
    public void A_wrong_shape_names_tensor_expected_and_found()
    {
        // SD1-style 1x1 conv weights loaded into an SD2-style (linear projection) config.
        var path = WriteWeights("unet_tiny.safetensors");
        var e = Assert.Throws<CheckpointMismatchException>(() => UNet2DConditionModel.FromSafetensors(PathOf("unet_tiny_sd2.json"), path));
        var problem = Assert.Single(e.Problems, p => p.Contains("down_blocks.0.attentions.0.proj_in.weight"));
        Assert.Contains("expected shape [32, 32]", problem);
        Assert.Contains("found [32, 32, 1, 1]", problem);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void Vae_FromSafetensors_rejects_unexpected_tensors()
    {
        var path = WriteWeights("vae_tiny.safetensors", w => w["encoder.extra.weight"] = zeros(3));
        var e = Assert.Throws<CheckpointMismatchException>(() => AutoencoderKL.FromSafetensors(PathOf("vae_tiny.json"), path));
        Assert.Contains(e.Problems, p => p.Contains("unexpected tensor encoder.extra.weight"));
    }

    [Fact]
    public void A_diffusers_component_folder_loads_and_an_incomplete_one_is_an_input_error()
    {
        var folder = Directory.CreateDirectory(Path.Combine(dir, "vae")).FullName;
        File.Copy(PathOf("vae_tiny.json"), Path.Combine(folder, "config.json"));
        var e = Assert.Throws<InputException>(() => AutoencoderKL.FromDiffusersFolder(folder));
        Assert.Equal(folder, e.Field);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);

        File.Move(WriteWeights("vae_tiny.safetensors"), Path.Combine(folder, "diffusion_pytorch_model.fp16.safetensors"));
        using var vae = AutoencoderKL.FromDiffusersFolder(folder);
        Assert.Equal(4, vae.Config.LatentChannels);
    }
}
