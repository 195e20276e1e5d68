using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.Layers;
using FineRewards.Diffusion.Models.UNet;
using TorchSharp;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

public class UNet2DConditionModelTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // README: float32 noise vs float64 is ~3.7e-6; a 10% wrong attention scale moves the output by 7.7e-4.
    private const double Tolerance = 3e-5;

    private static UNet2DConditionModel LoadTiny(string name, Recording recording)
    {
        var config = UNet2DConditionConfig.FromFile(PathOf($"{name}.json"));
        var model = new UNet2DConditionModel(config);
        StateDictLoader.Load(model, recording.Parameters, recording.Path);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData("unet_tiny")]
    [InlineData("unet_tiny_sd2")]
    public void Forward_matches_diffusers_output_and_intermediates(string name)
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording($"{name}.safetensors");
        using var model = LoadTiny(name, recording);
        using var _ = no_grad();

        var intermediates = new Dictionary<string, Tensor>();
        var result = model.Forward(recording["input.sample"], recording["input.timestep"],
            recording["input.encoder_hidden_states"], intermediates);

        intermediates["output.sample"] = result;
        foreach (var key in new[] { "time_proj", "time_embedding", "down_blocks.0", "mid_block", "output.sample" })
        {
            var expected = recording[key.StartsWith("output.") ? key : $"intermediate.{key}"];
            double diff = MaxAbsDiff(intermediates[key], expected, $"{name} {key}");
            output.WriteLine($"{name} {key}: max |diff| {diff:E2}");
            Assert.True(diff <= Tolerance, $"{name} {key}: max |diff| {diff:E2} > {Tolerance:E1}");
        }
    }

    [Fact]
    public void Integer_and_scalar_timesteps_give_the_same_output()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("unet_tiny.safetensors");
        using var model = LoadTiny("unet_tiny", recording);
        using var _ = no_grad();
        var sample = recording["input.sample"];
        var context = recording["input.encoder_hidden_states"];

        var asLong = model.forward(sample, tensor(new long[] { 10, 500 }), context);
        AssertClose(asLong, recording["output.sample"], Tolerance, "int64 timesteps");

        // A scalar timestep is shared by the batch: same as [t, t].
        var scalar = model.forward(sample, tensor(500L), context);
        var pair = model.forward(sample, tensor(new long[] { 500, 500 }), context);
        Assert.Equal(0.0, MaxAbsDiff(scalar, pair, "scalar timestep"), 6);
        Assert.True(MaxAbsDiff(scalar, asLong, "different timesteps") > 1e-3, "the timestep must change the output");
    }

    [Fact]
    public void Odd_latent_sizes_come_back_at_their_own_size()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("unet_tiny.safetensors");
        using var model = LoadTiny("unet_tiny", recording);
        using var _ = no_grad();
        var output = model.forward(randn(1, 4, 9, 7), tensor(10L), randn(1, 3, 32));
        Assert.Equal(new long[] { 1, 4, 9, 7 }, output.shape);
        Assert.True(output.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData("unet_tiny", new[] { 8, 8, 8, 8 }, new[] { 4, 8 })]
    [InlineData("unet_tiny_sd2", new[] { 2, 4, 2, 2 }, new[] { 16, 16 })]
    public void Attention_head_dim_is_the_number_of_heads(string name, int[] heads, int[] headDims)
    {
        // Checked on down_blocks.0, mid_block, up_blocks.1 (attn1) and up_blocks.1 (attn2).
        var config = UNet2DConditionConfig.FromFile(PathOf($"{name}.json"));
        using var model = new UNet2DConditionModel(config);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        string[] paths =
        [
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1",
            "mid_block.attentions.0.transformer_blocks.0.attn1",
            "up_blocks.1.attentions.0.transformer_blocks.0.attn1",
            "up_blocks.1.attentions.0.transformer_blocks.0.attn2",
        ];
        for (int i = 0; i < paths.Length; i++)
        {
            var attention = Assert.IsType<Attention>(modules[paths[i]]);
            Assert.Equal(heads[i], attention.Heads);
        }
        // head size = block channels / heads: 32/8=4 and 64/8=8 (SD1 style), 32/2=64/4=16 (SD2 style)
        Assert.Equal(headDims[0], ((Attention)modules[paths[0]]).HeadDim);
        Assert.Equal(headDims[1], ((Attention)modules[paths[1]]).HeadDim);
    }

    [Fact]
    public void Projections_follow_use_linear_projection()
    {
        using var sd1 = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json")));
        using var sd2 = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny_sd2.json")));
        Assert.Equal(new long[] { 32, 32, 1, 1 }, sd1.state_dict()["down_blocks.0.attentions.0.proj_in.weight"].shape);
        Assert.Equal(new long[] { 32, 32 }, sd2.state_dict()["down_blocks.0.attentions.0.proj_in.weight"].shape);
    }
}
