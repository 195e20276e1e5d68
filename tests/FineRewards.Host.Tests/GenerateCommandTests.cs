using System.Text.Json;
using FineRewards.Core;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Host.Cli;
using FineRewards.Shapes.Rendering;

namespace FineRewards.Host.Tests;

public sealed class TinyModelFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "fr-generate-cli-" + Guid.NewGuid().ToString("N"));
    public string Model => Path.Combine(Root, "tiny");

    public TinyModelFixture() => SyntheticPipeline.WriteFolder("tiny", Model, seed: 3);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

public class GenerateCommandTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Writes_one_png_per_candidate_and_the_provenance()
    {
        string output = Path.Combine(model.Root, "out-" + Guid.NewGuid().ToString("N"));
        var result = CliRunner.Run("generate", "--model", model.Model, "--prompt", "a red circle", "--negative", "blue",
            "--k", "3", "--seed", "40", "--sampler", "euler_a", "--steps", "2", "--size", "16x16", "--batch", "2", "--threads", "1", "--out", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("3 candidates of 16x16", result.Stdout);

        using var job = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, GenerateCommand.ProvenanceFile)));
        var candidates = job.RootElement.GetProperty("candidates").EnumerateArray().ToList();
        Assert.Equal(3, candidates.Count);
        for (int i = 0; i < 3; i++)
        {
            var c = candidates[i];
            Assert.Equal(40 + i, c.GetProperty("seed").GetInt64());
            var image = ImageFiles.ReadImage(Path.Combine(output, c.GetProperty("file").GetString()!));
            Assert.Equal((16, 16), (image.Width, image.Height));
            var provenance = c.GetProperty("provenance");
            Assert.Equal("euler_a", provenance.GetProperty("sampler").GetString());
            Assert.Equal("blue", provenance.GetProperty("negative_prompt").GetString());
            Assert.Equal((40 + i).ToString(), provenance.GetProperty("seed").GetString());
        }
        Assert.Equal("tiny", job.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void A_size_off_the_vae_grid_is_a_clear_error()
    {
        var result = CliRunner.Run("generate", "--model", model.Model, "--prompt", "a red circle", "--size", "15x16",
            "--out", Path.Combine(model.Root, "bad"));
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains("width", result.Stderr);
        Assert.Contains("multiple of 2", result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(model.Root, "bad")));
    }

    [Fact]
    public void A_missing_model_folder_part_is_named()
    {
        var result = CliRunner.Run("generate", "--model", Path.Combine(model.Root, "nope"), "--prompt", "x", "--out", Path.Combine(model.Root, "o"));
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains("model folder does not exist", result.Stderr);
    }

    [Theory]
    [InlineData("style.safetensors", "style.safetensors", 1.0)]
    [InlineData("loras/style.safetensors:0.5", "loras/style.safetensors", 0.5)]
    [InlineData(@"C:\loras\style.safetensors", @"C:\loras\style.safetensors", 1.0)]
    [InlineData(@"C:\loras\style.safetensors:-1.5", @"C:\loras\style.safetensors", -1.5)]
    public void Lora_arguments_take_an_optional_scale(string text, string path, double scale)
    {
        var lora = GenerateCommand.ParseLora(text);
        Assert.Equal(path, lora.Path);
        Assert.Equal(scale, lora.Scale);
    }

    [Fact]
    public void Bench_diffusion_reports_its_measurements()
    {
        var result = CliRunner.Run("bench", "diffusion", "--arch", "tiny", "--k", "2", "--steps", "2", "--repeats", "1", "--size", "16x16", "--threads", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        foreach (var key in new[] { "unet_forward_ms_batch2", "generate_batched_seconds_per_step", "generate_sequential_images_per_second", "lora_train_step_ms_median", "peak_working_set_mib" })
            Assert.True(json.RootElement.GetProperty(key).GetDouble() > 0, key);
        Assert.Equal(2, CliRunner.Run("bench", "diffusion", "--arch", "sd99").ExitCode);
    }
}
