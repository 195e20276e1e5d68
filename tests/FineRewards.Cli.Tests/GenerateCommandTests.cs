using System.Text.Json;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Cli.Cli;
using FineRewards.Shapes.Rendering;

namespace FineRewards.Cli.Tests;

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
    static List<JsonElement> Results(string output) =>
        File.ReadAllLines(Path.Combine(output, GenerateCommand.ResultsFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public void Writes_one_png_per_candidate_and_the_provenance()
    {
        string output = Path.Combine(model.Root, "out-" + Guid.NewGuid().ToString("N"));
        var result = CliRunner.Run("generate", "--model", model.Model, "--prompt", "a red circle", "--negative", "blue",
            "--k", "3", "--seed", "40", "--sampler", "euler_a", "--steps", "2", "--size", "16x16", "--batch", "2", "--threads", "1", "--out", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("1 prompt(s) x 3 candidates of 16x16", result.Stdout);

        var lines = Results(output);
        Assert.Equal(3, lines.Count);
        for (int i = 0; i < 3; i++)
        {
            var c = lines[i];
            Assert.Equal((0, i), (c.GetProperty("prompt_index").GetInt32(), c.GetProperty("candidate_index").GetInt32()));
            Assert.Equal(40 + i, c.GetProperty("seed").GetInt64());
            Assert.Equal($"p0000_c{i}.png", c.GetProperty("file").GetString());
            byte[] png = File.ReadAllBytes(Path.Combine(output, c.GetProperty("file").GetString()!));
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)), c.GetProperty("png_sha256").GetString());
            var image = PngCodec.Read(Path.Combine(output, c.GetProperty("file").GetString()!));
            Assert.Equal((16, 16), (image.Width, image.Height));
            Assert.Equal("euler_a", c.GetProperty("sampler").GetString());
            Assert.Equal(2, c.GetProperty("steps").GetInt32());
            Assert.Equal(64, c.GetProperty("model_hash").GetString()!.Length);
            var provenance = c.GetProperty("provenance");
            Assert.Equal("blue", provenance.GetProperty("negative_prompt").GetString());
            Assert.Equal((40 + i).ToString(), provenance.GetProperty("seed").GetString());
            Assert.Equal("tiny", provenance.GetProperty("model").GetString());
        }
    }

    /// <summary>The issue's exact call on the shipped pack, then `eval-shapes` on the same prompts file and folder.</summary>
    [Fact]
    public void Generates_a_prompts_file_with_the_shapes_pack_in_the_layout_eval_shapes_reads()
    {
        string output = Path.Combine(model.Root, "pack-" + Guid.NewGuid().ToString("N"));
        string prompts = Path.Combine(model.Root, "prompts-" + Guid.NewGuid().ToString("N") + ".txt");
        File.WriteAllText(prompts, "a red circle\n\ntwo blue squares\n");
        var result = CliRunner.Run("generate", "--pack", "shapes", "--prompts", prompts, "--k", "2", "--seed", "5", "--out", output, "--steps", "3", "--threads", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = Results(output);
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1)], lines.Select(l => (l.GetProperty("prompt_index").GetInt32(), l.GetProperty("candidate_index").GetInt32())));
        Assert.Equal("two blue squares", lines[2].GetProperty("prompt").GetString());
        Assert.Equal(1005, lines[2].GetProperty("seed").GetInt64());   // prompt 1's base seed is seed + 1000
        Assert.All(lines, l => Assert.Equal("shapes", l.GetProperty("pack").GetString()));
        Assert.All(lines, l => Assert.Equal("ddim", l.GetProperty("sampler").GetString()));   // the pack's default sampler
        Assert.All(lines, l => Assert.Equal(3, l.GetProperty("steps").GetInt32()));
        // stderr is a pipe here: plain progress lines, no carriage-return redraws.
        Assert.DoesNotContain('\r', result.Stderr);
        Assert.Contains(result.Stderr.Split('\n'), l => l.StartsWith("prompt 2/2: step 3/3,", StringComparison.Ordinal));

        var eval = CliRunner.Run("eval-shapes", "--prompts", prompts, "--images", output, "--k", "2");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        Assert.Contains("overall", eval.Stdout);
    }

    [Fact]
    public void Pack_and_model_or_prompt_and_prompts_must_be_exactly_one()
    {
        var both = CliRunner.Run("generate", "--pack", "shapes", "--model", model.Model, "--prompt", "a red circle", "--out", Path.Combine(model.Root, "o3"));
        Assert.Equal(CliErrors.BadInput, both.ExitCode);
        Assert.Contains("--pack", both.Stderr);
        var neither = CliRunner.Run("generate", "--pack", "shapes", "--out", Path.Combine(model.Root, "o4"));
        Assert.Equal(CliErrors.BadInput, neither.ExitCode);
        Assert.Contains("--prompt", neither.Stderr);
        var notGrammar = CliRunner.Run("generate", "--pack", "shapes", "--prompt", "a cat", "--out", Path.Combine(model.Root, "o5"));
        Assert.Equal(CliErrors.BadInput, notGrammar.ExitCode);
        Assert.Contains("--prompt", notGrammar.Stderr);
        Assert.False(Directory.Exists(Path.Combine(model.Root, "o5")));
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

    [Fact]
    public void A_corrupt_weights_file_is_bad_input_not_a_crash()
    {
        string broken = Path.Combine(model.Root, "broken-" + Guid.NewGuid().ToString("N"));
        SyntheticPipeline.WriteFolder("tiny", broken, seed: 3);
        File.WriteAllText(Path.Combine(broken, "vae", "diffusion_pytorch_model.safetensors"), "not a safetensors file");
        var result = CliRunner.Run("generate", "--model", broken, "--prompt", "a red circle", "--out", Path.Combine(model.Root, "o2"));
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains("diffusion_pytorch_model.safetensors", result.Stderr);
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
