using System.Text.Json;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Cli.Cli;
using static TorchSharp.torch;

namespace FineRewards.Cli.Tests;

/// <summary>
/// A single file a real tokenizer can drive: the tiny fixture's UNet and VAE with a random CLIP text
/// encoder of the full 49,408-token vocabulary (width 32, as the tiny UNet's cross-attention expects),
/// under SD 1.x's single-file names.
/// </summary>
public sealed class FullVocabularySingleFile : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "fr-sd-pack-" + Guid.NewGuid().ToString("N"));
    public string Checkpoint => Path.Combine(Root, "tiny-full-vocab.safetensors");
    public static string TinyFixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_sd1_single_file.safetensors");

    public FullVocabularySingleFile()
    {
        Directory.CreateDirectory(Root);
        var tensors = StateDictLoader.ReadSafetensors(TinyFixture);
        using var text = new ClipTextModel(ClipTextConfig.Tiny() with { VocabSize = 49408 });
        try
        {
            foreach (var key in tensors.Keys.Where(k => k.StartsWith("cond_stage_model.")).ToList())
            {
                tensors[key].Dispose();
                tensors.Remove(key);
            }
            foreach (var (key, value) in text.state_dict()) tensors[SingleFileKeys.ClipPrefix + key] = value.to(ScalarType.Float16);
            SafetensorsFile.Write(Checkpoint, tensors);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

public class SdPackCommandsTests(FullVocabularySingleFile model) : IClassFixture<FullVocabularySingleFile>
{
    string NewFolder(string name) => Path.Combine(model.Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void Inspect_model_prints_family_counts_per_component_and_no_unknown_or_missing_keys()
    {
        var result = CliRunner.Run("inspect", "--model", FullVocabularySingleFile.TinyFixture);
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        Assert.Contains("family sd1", result.Stdout);
        Assert.Matches(@"(?m)^unet\s+217,772\s", result.Stdout);
        Assert.Matches(@"(?m)^vae\s+111,839\s", result.Stdout);
        Assert.Matches(@"(?m)^text_encoder\s+51,616\s", result.Stdout);
        Assert.Contains("F16 (964 tensors)", result.Stdout);
        Assert.Contains("unknown keys: none", result.Stdout);
        Assert.Contains("missing keys: none", result.Stdout);
        Assert.Contains("assumed: prediction_type = epsilon", result.Stdout);

        var json = CliRunner.Run("inspect", "--model", FullVocabularySingleFile.TinyFixture, "--json");
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal("single-file", doc.RootElement.GetProperty("format").GetString());
        Assert.Equal(new[] { 8, 16, 16, 16 }, doc.RootElement.GetProperty("config").GetProperty("unet").GetProperty("block_out_channels").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Inspect_arch_includes_the_text_encoder()
    {
        var result = CliRunner.Run("inspect", "--arch", "sd15");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Matches(@"text_encoder\s+123,060,480", result.Stdout);
    }

    [Fact]
    public void Pack_create_sd_writes_the_manifest_and_generate_runs_on_the_pack()
    {
        string pack = NewFolder("pack");
        string sam = Directory.CreateDirectory(Path.Combine(model.Root, "sam-model")).FullName;
        var created = CliRunner.Run("pack", "create", "sd", "--checkpoint", model.Checkpoint, "--prediction-type", "epsilon", "--sam", sam, "--out", pack);
        Assert.True(created.ExitCode == 0, created.Stderr + created.Stdout);

        var manifest = PackManifest.Load(Path.Combine(pack, PackManifest.FileName));
        var diffusion = manifest.Components!["diffusion"];
        Assert.Equal("sd-single-file", diffusion.Kind);
        Assert.Equal(Path.GetFullPath(model.Checkpoint), diffusion.Path);   // outside the pack: absolute
        Assert.Equal("epsilon", diffusion.Config!.Value.GetProperty("prediction_type").GetString());
        Assert.Equal("onnx-sam", manifest.Components["sam"].Kind);
        Assert.False(manifest.Components.ContainsKey("clip"));
        Assert.Empty(manifest.Files);   // the checkpoint is referenced, never copied or hashed into the pack

        string output = NewFolder("out");
        var generated = CliRunner.Run("generate", "--pack", pack, "--prompt", "a red circle", "--k", "2", "--steps", "2",
            "--size", "32x32", "--threads", "1", "--out", output);
        Assert.True(generated.ExitCode == 0, generated.Stderr + generated.Stdout);
        Assert.Contains("1 prompt(s) x 2 candidates of 32x32", generated.Stdout);
        var lines = File.ReadAllLines(Path.Combine(output, GenerateCommand.ResultsFile));
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("tiny-full-vocab", first.RootElement.GetProperty("provenance").GetProperty("model").GetString());
        Assert.Equal("ddim", first.RootElement.GetProperty("sampler").GetString());
    }

    [Fact]
    public void Pack_create_refuses_a_file_that_is_not_a_checkpoint_and_writes_nothing()
    {
        string lora = Path.Combine(model.Root, "style-lora.safetensors");
        using (var down = zeros(4, 8))
        using (var up = zeros(8, 4))
            SafetensorsFile.Write(lora, new Dictionary<string, Tensor>
            {
                ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"] = down,
                ["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight"] = up,
            });
        string pack = NewFolder("bad-pack");
        var result = CliRunner.Run("pack", "create", "sd", "--checkpoint", lora, "--out", pack);
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains("LoRA", result.Stderr);
        Assert.False(Directory.Exists(pack));
    }

    [Fact]
    public void Doctor_reports_each_part_of_an_sd_pack_with_the_path_looked_at()
    {
        string root = NewFolder("packs");
        string judge = Path.Combine(root, "judge.gguf");
        Directory.CreateDirectory(root);
        File.WriteAllBytes(judge, [0]);
        var created = CliRunner.Run("pack", "create", "sd", "--checkpoint", model.Checkpoint, "--judge", judge, "--out", Path.Combine(root, "mine"));
        Assert.True(created.ExitCode == 0, created.Stderr + created.Stdout);
        File.Delete(judge);   // the judge goes away after the pack was made

        var report = CliRunner.Run(new Dictionary<string, string> { [PackLocator.EnvironmentVariable] = root }, "doctor", "--json");
        using var doc = JsonDocument.Parse(report.Stdout);
        var facts = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "packs").GetProperty("facts");
        Assert.Equal($"sd-single-file {Path.GetFullPath(model.Checkpoint)}", facts.GetProperty("pack.mine.diffusion").GetString());
        Assert.Equal($"MISSING gguf-judge: looked at {judge}", facts.GetProperty("pack.mine.judge").GetString());
        Assert.StartsWith("not configured (onnx-clip", facts.GetProperty("pack.mine.clip").GetString());
    }

    [Fact]
    public void Pack_create_takes_a_detector_and_doctor_reports_it_with_the_path_looked_at()
    {
        string root = NewFolder("detector-packs");
        string detector = Path.Combine(root, "owlvit");
        Directory.CreateDirectory(detector);
        var created = CliRunner.Run("pack", "create", "sd", "--checkpoint", model.Checkpoint, "--detector", detector, "--out", Path.Combine(root, "mine"));
        Assert.True(created.ExitCode == 0, created.Stderr + created.Stdout);
        var component = PackManifest.Load(Path.Combine(root, "mine", PackManifest.FileName)).Components!["detector"];
        Assert.Equal("onnx-owlvit", component.Kind);

        // The folder is there but holds no graph: the pack's problems name the file looked at.
        var report = CliRunner.Run(new Dictionary<string, string> { [PackLocator.EnvironmentVariable] = root }, "doctor", "--json");
        using (var doc = JsonDocument.Parse(report.Stdout))
        {
            var facts = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "packs").GetProperty("facts");
            Assert.Equal($"onnx-owlvit {detector}", facts.GetProperty("pack.mine.detector").GetString());
            Assert.Contains($"detector (onnx-owlvit): missing {Path.Combine(detector, "onnx", "model.onnx")}", facts.GetProperty("pack.mine").GetString());
        }

        Directory.Delete(detector);
        report = CliRunner.Run(new Dictionary<string, string> { [PackLocator.EnvironmentVariable] = root }, "doctor", "--json");
        using (var doc = JsonDocument.Parse(report.Stdout))
        {
            var facts = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "packs").GetProperty("facts");
            Assert.Equal($"MISSING onnx-owlvit: looked at {detector}", facts.GetProperty("pack.mine.detector").GetString());
        }
        Assert.Contains("--detector", CliRunner.Run("pack", "create", "sd", "--help").Stdout);
    }
}
