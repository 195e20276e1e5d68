using System.Text.Json.Nodes;
using FineRewards.Diffusion.Runtime;

namespace FineRewards.Cli.Tests;

public class DoctorTests
{
    [Fact]
    public void TorchSharp_loads_in_the_test_process()
    {
        // The GLIBCXX patch step must also have run on this test project's output folder.
        var info = TorchProbe.Probe();
        Assert.True(info.Loaded, info.Error);
        Assert.True(info.Threads >= 1);
    }

    [Fact]
    public void Doctor_json_reports_every_check_and_is_healthy_here()
    {
        var r = CliRunner.Run("doctor", "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var doc = JsonNode.Parse(r.Stdout)!;
        Assert.True((bool)doc["healthy"]!);
        var checks = doc["checks"]!.AsArray().ToDictionary(c => (string)c!["name"]!, c => c!);
        Assert.Equal(new[] { "fonts", "gpu", "libtorch", "llama", "onnxruntime", "packs", "runtime" }, checks.Keys.Order());
        foreach (string required in new[] { "runtime", "libtorch", "onnxruntime", "fonts" })
            Assert.Equal("ok", (string)checks[required]["status"]!);
        Assert.Contains("CPUExecutionProvider", (string)checks["onnxruntime"]["facts"]!["providers"]!);
        // libtorch is "ok" only when its float32 convolutions and gradients match float64 (docs/building.md).
        Assert.Contains("convolution_error", checks["libtorch"]["facts"]!.AsObject().Select(p => p.Key));
        Assert.Contains("search_paths", checks["packs"]["facts"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void Doctor_reports_a_pack_with_missing_files()
    {
        string root = Directory.CreateTempSubdirectory("fr-doctor").FullName;
        Directory.CreateDirectory(Path.Combine(root, "mine"));
        File.WriteAllText(Path.Combine(root, "mine", "pack.json"), """{"name":"mine","version":"1","files":[{"path":"unet.safetensors","sha256":"00","bytes":3}]}""");
        Environment.SetEnvironmentVariable("FINEREWARDS_PACKS", root);
        try
        {
            var r = CliRunner.Run("doctor", "--json");
            var packs = JsonNode.Parse(r.Stdout)!["checks"]!.AsArray().First(c => (string)c!["name"]! == "packs")!;
            string mine = (string)packs["facts"]!["pack.mine"]!;
            Assert.Contains("incomplete", mine);
            Assert.Contains(Path.Combine(root, "mine", "unet.safetensors"), mine);
        }
        finally
        {
            Environment.SetEnvironmentVariable("FINEREWARDS_PACKS", null);
        }
    }

    [Fact]
    public void Demo_ranks_the_bundled_example_and_runs_best_of_k_on_the_shapes_pack()
    {
        string output = Directory.CreateTempSubdirectory("demo-").FullName;
        try
        {
            var r = CliRunner.Run("demo", "--out", output);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("three green triangles", r.Stdout);
            Assert.Contains("All required checks passed", r.Stdout);
            Assert.Contains("Best-of-4 on the built-in shapes pack", r.Stdout);
            using var demo = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "demo.json")));
            var rows = demo.RootElement.EnumerateArray().ToList();
            Assert.Equal(12, rows.Count);   // 3 prompts x K=4
            // Exactly one ARL pick per prompt, and every candidate's image and caption evidence kept.
            Assert.Equal(3, rows.Count(row => row.GetProperty("selected").GetBoolean()));
            Assert.All(rows, row => Assert.True(File.Exists(row.GetProperty("image").GetString())));
            Assert.All(rows, row => Assert.False(string.IsNullOrEmpty(row.GetProperty("caption").GetString())));
            // The page: every candidate's image and its verdict overlay, every segment's label with its verdict word.
            string html = File.ReadAllText(Path.Combine(output, "index.html"));
            Assert.Contains(Path.Combine(output, "index.html"), r.Stdout.ReplaceLineEndings("").Replace(" ", ""));
            foreach (var row in rows)
            {
                string image = Path.GetFileName(row.GetProperty("image").GetString()!);
                Assert.Contains($"src=\"{image}\"", html);
                string overlay = image.Replace(".png", "_segments.png");
                Assert.Contains($"src=\"{overlay}\"", html);
                Assert.True(File.Exists(Path.Combine(output, overlay)), overlay);
                foreach (var segment in row.GetProperty("segments").EnumerateArray())
                    Assert.Contains($"<td>{segment.GetProperty("label").GetString()}</td><td>", html);
            }
            Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(html, "★ selected"));
            // The fixed seeds give wrong candidates (5 of 12 on the machine they were chosen on), and the page says
            // for each prompt what ARL picked and why it ranked the wrong ones lower.
            Assert.Contains(rows, row => !row.GetProperty("correct").GetBoolean());
            Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(html, "<p class=\"why\">ARL picked c"));
            Assert.Contains("ranked the", html);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
