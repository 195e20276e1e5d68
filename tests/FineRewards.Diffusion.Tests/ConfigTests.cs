using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

public class ConfigTests
{
    [Fact]
    public void Diffusers_config_json_is_read_with_int_or_list_fields()
    {
        var sd1 = UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json"));
        var sd2 = UNet2DConditionConfig.FromFile(PathOf("unet_tiny_sd2.json"));
        Assert.Equal([32, 64], sd1.BlockOutChannels);
        Assert.Equal([8], sd1.AttentionHeadDim);
        Assert.Equal(8, sd1.HeadsOf(1));
        Assert.Equal([2, 4], sd2.AttentionHeadDim);
        Assert.Equal(2, sd2.HeadsOf(0));
        Assert.Equal(4, sd2.HeadsOf(1));
        Assert.True(sd2.UseLinearProjection);
        Assert.False(sd1.UseLinearProjection);
        Assert.Equal(8, sd1.NormNumGroups);
        Assert.Equal(16, sd1.SampleSize);
        Assert.Equal(["UpBlock2D", "CrossAttnUpBlock2D"], sd1.UpBlockTypes);

        var vae = AutoencoderKLConfig.FromFile(PathOf("vae_tiny.json"));
        Assert.Equal(0.18215, vae.ScalingFactor);
        Assert.Equal(4, vae.LatentChannels);
        Assert.Equal([32, 64], vae.BlockOutChannels);
    }

    [Fact]
    public void Presets_have_the_stable_diffusion_settings()
    {
        Assert.Equal([768], UNet2DConditionConfig.Sd15.CrossAttentionDim);
        Assert.Equal([1024], UNet2DConditionConfig.Sd21.CrossAttentionDim);
        Assert.Equal([5, 10, 20, 20], UNet2DConditionConfig.Sd21.AttentionHeadDim);
        Assert.True(UNet2DConditionConfig.Sd21.UpcastAttention);
        Assert.Equal(8, AutoencoderKLConfig.SdVae.DownsampleFactor);
    }

    [Fact]
    public void Unsupported_settings_are_input_errors_naming_the_field()
    {
        var json = File.ReadAllText(PathOf("unet_tiny.json")).Replace("\"DownBlock2D\"", "\"AttnDownBlock2D\"");
        var e = Assert.Throws<InputException>(() => UNet2DConditionConfig.FromJson(json, "unet/config.json"));
        Assert.Contains("down_block_types", e.Field);
        Assert.Contains("AttnDownBlock2D", e.Message);

        var heads = File.ReadAllText(PathOf("unet_tiny.json")).Replace("\"attention_head_dim\": 8", "\"attention_head_dim\": 3");
        var h = Assert.Throws<InputException>(() => UNet2DConditionConfig.FromJson(heads));
        Assert.Contains("attention_head_dim", h.Field);

        var swapped = Assert.Throws<InputException>(() => UNet2DConditionConfig.FromFile(PathOf("vae_tiny.json")));
        Assert.Contains("_class_name", swapped.Field);
        Assert.Contains("AutoencoderKL", swapped.Message);

        var broken = Assert.Throws<InputException>(() => AutoencoderKLConfig.FromJson("{ \"block_out_channels\": 7 }", "vae/config.json"));
        Assert.Equal("vae/config.json", broken.Field);
    }
}
