using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Inspect;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

[Collection(MetaDeviceCollection.Name)]
public class ArchitectureInspectorTests
{
    public static TheoryData<string, string, string> KeyLists => new()
    {
        { "sd15", "unet", "unet_sd15_keys.txt" },
        { "sd21", "unet", "unet_sd21_keys.txt" },
        { "sd15", "vae", "vae_sd_keys.txt" },
    };

    [Theory]
    [MemberData(nameof(KeyLists))]
    public void State_dict_keys_and_shapes_equal_diffusers_in_order(string arch, string component, string file)
    {
        var (expected, total) = ReadKeyList(file);
        var build = ArchitectureInspector.ComponentsOf(arch).Single(c => c.Name == component).Build;
        var report = ArchitectureInspector.InspectComponent(component, build);
        var actual = report.Parameters.Select(p => p.ToString()).ToList();

        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{file}: missing {string.Join(" | ", missing)}; extra {string.Join(" | ", extra)}");
        Assert.Equal(expected, actual);   // same order too
        Assert.Equal(total, report.Total);
    }

    [Fact]
    public void Whole_architectures_have_the_published_totals()
    {
        var sd15 = ArchitectureInspector.Inspect("sd15");
        var sd21 = ArchitectureInspector.Inspect("sd21");
        Assert.Equal(859_520_964, sd15.Components.Single(c => c.Name == "unet").Total);
        Assert.Equal(83_653_863, sd15.Components.Single(c => c.Name == "vae").Total);
        Assert.Equal(865_910_724, sd21.Components.Single(c => c.Name == "unet").Total);
        Assert.Equal(123_060_480, sd15.Components.Single(c => c.Name == "text_encoder").Total);
        Assert.Equal(340_387_840, sd21.Components.Single(c => c.Name == "text_encoder").Total);
        Assert.Equal(859_520_964L + 83_653_863L + 123_060_480L, sd15.Total);
        Assert.Equal("UNet2DConditionModel", sd15.Components[0].ModelClass);
    }

    [Fact]
    public void Extra_components_are_inspected_too_and_meta_does_not_leak()
    {
        var tiny = UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json"));
        var report = ArchitectureInspector.Inspect("sd15", [new NamedComponent("tiny_unet", () => new UNet2DConditionModel(tiny))]);
        Assert.Equal(["unet", "vae", "text_encoder", "tiny_unet"], report.Components.Select(c => c.Name));
        Assert.Equal(792_964, report.Components[3].Total);   // README: 792,964 parameters
        Assert.Equal(208, report.Components[3].Parameters.Count);

        // After inspecting, models are built on the normal device again.
        using var vae = new AutoencoderKL(AutoencoderKLConfig.FromFile(PathOf("vae_tiny.json")));
        Assert.Equal(TorchSharp.DeviceType.CPU, vae.parameters().First().device_type);
        Assert.Equal(658_375, vae.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Unknown_architecture_is_an_input_error()
    {
        var e = Assert.Throws<InputException>(() => ArchitectureInspector.Inspect("sdxl"));
        Assert.Equal("--arch", e.Field);
        Assert.Contains("sd15", e.Message);
    }
}
