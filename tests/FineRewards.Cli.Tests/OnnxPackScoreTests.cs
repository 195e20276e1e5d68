using System.Text.Json;
using FineRewards.Contracts.IO;
using System.Text.Json.Nodes;
using FineRewards.Core.Packs;
using FineRewards.Cli.Doctor;

namespace FineRewards.Cli.Tests;

/// <summary>`score --pack` on a pack of ONNX reward models written the way `pack create sd` writes it, pointing at the tiny fixture graphs.</summary>
public sealed class OnnxPackScoreTests : IDisposable
{
    static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-rewards");
    readonly string _root = Directory.CreateTempSubdirectory("onnx-packs-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The tiny CLIP graphs with the CLIP tokenizer files, as a Hugging Face export folder at <paramref name="clip"/>.</summary>
    internal static void CopyClipFixture(string clip)
    {
        Directory.CreateDirectory(Path.Combine(clip, "onnx"));
        foreach (var f in Directory.GetFiles(Path.Combine(Fixture, "clip"), "*", SearchOption.AllDirectories))
            File.Copy(f, Path.Combine(clip, Path.GetRelativePath(Path.Combine(Fixture, "clip"), f)));
        foreach (var f in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "clip-tokenizer", f), Path.Combine(clip, f));
    }

    /// <summary>clip inside the pack (relative path, with the tokenizer files), sam outside it (absolute path).</summary>
    string WritePack(string name, bool withSam = true, bool withCaptioner = false, JsonObject? detectorConfig = null)
    {
        string pack = Path.Combine(_root, name);
        CopyClipFixture(Path.Combine(pack, "models", "clip"));
        var components = new JsonObject
        {
            ["clip"] = new JsonObject { ["kind"] = "onnx-clip", ["path"] = "models/clip" },
            // Random weights: the fixture's IoU estimates mean nothing, so the filters are opened.
            ["sam"] = new JsonObject
            {
                ["kind"] = "onnx-sam",
                ["path"] = withSam ? Path.Combine(Fixture, "sam") : Path.Combine(_root, "no-such-sam"),
                ["config"] = new JsonObject { ["points_per_side"] = 3, ["pred_iou_thresh"] = -1e9, ["stability_score_thresh"] = 0.0 },
            },
        };
        if (withCaptioner)
            components["captioner"] = new JsonObject { ["kind"] = "onnx-captioner", ["path"] = Path.Combine(AppContext.BaseDirectory, "Fixtures", "captioner") };
        if (detectorConfig is not null)
        {
            // The Rewards tests' tiny OWL-ViT graph ("circle" and "square" have known boxes) with the CLIP tokenizer files.
            string detector = Path.Combine(pack, "models", "detector");
            Directory.CreateDirectory(Path.Combine(detector, "onnx"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "owlvit", "onnx", "model.onnx"), Path.Combine(detector, "onnx", "model.onnx"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "owlvit", "preprocessor_config.json"), Path.Combine(detector, "preprocessor_config.json"));
            foreach (var f in new[] { "vocab.json", "merges.txt" })
                File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "clip-tokenizer", f), Path.Combine(detector, f));
            components["detector"] = new JsonObject { ["kind"] = "onnx-owlvit", ["path"] = "models/detector", ["config"] = detectorConfig };
        }
        var manifest = new JsonObject { ["name"] = name, ["version"] = "1", ["files"] = new JsonArray(), ["components"] = components };
        File.WriteAllText(Path.Combine(pack, PackManifest.FileName), manifest.ToJsonString());
        return pack;
    }

    [Fact]
    public void Score_gives_the_clip_cosine_and_labelled_judged_segments_per_candidate()
    {
        string pack = WritePack("real");
        string output = Path.Combine(_root, "out.json");
        var r = CliRunner.Run("score", "--pack", pack, "--prompt", "a red circle",
            Path.Combine(Fixture, "image0.png"), Path.Combine(Fixture, "image3.png"), "--rewards", "clip,sam", "--json", output);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains("image0", r.Stdout);   // the table is still printed

        var json = JsonNode.Parse(File.ReadAllText(output))!;
        var byId = json["candidates"]!.AsArray().ToDictionary(c => c!["id"]!.GetValue<string>(), c => c!["rewards"]!);
        // The project's CLIP tokenizer + the text graph + preprocessing reproduce the fixture's cosine (image0, "a red circle").
        var reference = Reference();
        Assert.Equal(reference[0], byId["image0"]["clip"]!["score"]!.GetValue<double>(), 5);
        Assert.Equal(reference[3 * 4], byId["image3"]["clip"]!["score"]!.GetValue<double>(), 5);
        foreach (var id in new[] { "image0", "image3" })
        {
            var sam = byId[id]["sam"]!;
            var segments = sam["segments"]!.AsArray();
            Assert.NotEmpty(segments);
            foreach (var s in segments)
            {
                Assert.False(string.IsNullOrEmpty(s!["label"]!.GetValue<string>()));
                Assert.InRange(s["confidence"]!.GetValue<double>(), 0, 1);
                Assert.Contains(s["verdict"]!.GetValue<string>(), new[] { "certain", "may", "unlikely" });
                Assert.Equal(4, s["box"]!.AsArray().Count);
                Assert.True(s["area"]!.GetValue<int>() > 0);
            }
            Assert.Equal(segments.Average(s => s!["verdict"]!.GetValue<string>() switch { "certain" => 0.5, "may" => 0.0, _ => -0.5 }),
                sam["score"]!.GetValue<double>(), 9);
        }
    }

    static float[] Reference()
    {
        var (tensors, _) = FineRewards.Core.IO.SafetensorsLayout.ReadAll(Path.Combine(Fixture, "clip", "reference.safetensors"));
        return tensors["cosine"].Floats();
    }

    [Fact]
    public void A_pack_missing_a_model_is_reported_with_the_path_looked_at()
    {
        string pack = WritePack("broken", withSam: false);
        var r = CliRunner.Run("score", "--pack", pack, "--prompt", "a red circle", Path.Combine(Fixture, "image0.png"), "--rewards", "clip,sam");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(Path.Combine(_root, "no-such-sam"), r.Stderr + r.Stdout);

        var packs = Diagnostics.RunAll(new PackLocator([_root])).Single(c => c.Name == "packs");
        Assert.Contains(Path.Combine(_root, "no-such-sam"), packs.Facts["pack.broken"]);
        Assert.Contains("sam (onnx-sam)", packs.Facts["pack.broken"]);
    }

    [Fact]
    public void Caption_runs_the_packs_captioner_and_is_refused_clearly_on_a_pack_without_one()
    {
        // The tiny captioner (Rewards tests' Fixtures/captioner) says "a red circle" for a red image.
        string red = Path.Combine(_root, "red.png");
        File.WriteAllBytes(red, FineRewards.Contracts.IO.PngCodec.Encode(new FineRewards.Contracts.RgbImage(16, 16,
            Enumerable.Range(0, 256).SelectMany(_ => new byte[] { 240, 10, 10 }).ToArray())));
        var r = CliRunner.Run("score", "--pack", WritePack("captions", withCaptioner: true), "--prompt", "a red circle", red, "--rewards", "caption,clip", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var caption = JsonNode.Parse(r.Stdout)!["candidates"]![0]!["rewards"]!["caption"]!;
        Assert.Equal("a red circle", caption["caption"]!.GetValue<string>());
        Assert.Equal(1.0, caption["score"]!.GetValue<double>(), 4);   // the caption is the prompt

        var missing = CliRunner.Run("score", "--pack", WritePack("nocaption"), "--prompt", "a red circle", red, "--rewards", "caption");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("captioner", missing.Stderr + missing.Stdout);
    }

    [Fact]
    public void Score_with_a_detector_adds_segments_labelled_by_the_prompts_nouns_with_their_source()
    {
        string pack = WritePack("detect", detectorConfig: new JsonObject { ["threshold"] = 0.2 });
        var r = CliRunner.Run("score", "--pack", pack, "--prompt", "a red circle above a blue square", Path.Combine(Fixture, "image3.png"), "--rewards", "sam", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var segments = JsonNode.Parse(r.Stdout)!["candidates"]![0]!["rewards"]!["sam"]!["segments"]!.AsArray();
        // The real CLIP tokenizer finds "circle" in the fixture graph; SAM's mask of its box (12,8 48x32 on 120x80) is the segment.
        var circle = segments.Single(s => s!["source"]!.GetValue<string>() == "detector");
        Assert.Equal("circle", circle!["label"]!.GetValue<string>());
        Assert.Equal(1 / (1 + Math.Exp(-2.2)), circle["confidence"]!.GetValue<double>(), 5);
        Assert.Contains(circle["verdict"]!.GetValue<string>(), new[] { "certain", "may", "unlikely" });
        Assert.Contains(segments, s => s!["source"]!.GetValue<string>() == "grid");

        var bad = CliRunner.Run("score", "--pack", WritePack("badconfig", detectorConfig: new JsonObject { ["treshold"] = 0.2 }), "--prompt", "a red circle",
            Path.Combine(Fixture, "image3.png"), "--rewards", "sam");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("components.detector.config.treshold", bad.Stderr + bad.Stdout);
    }
}
