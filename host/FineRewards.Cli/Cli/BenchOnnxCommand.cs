using System.CommandLine;
using FineRewards.Contracts.IO;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Cli.Packs;
using FineRewards.Rewards.Onnx;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards bench onnx`: per candidate at K images, the milliseconds each reward model of a pack spends inside
/// ONNX Runtime and outside it (our preprocessing, decoding loops and mask post-processing), so the overhead of the
/// adapters can be checked against the target (under 10% of the run time).
/// </summary>
public static class BenchOnnxCommand
{
    public static Command Create()
    {
        var pack = new Option<string>("--pack") { Description = "A pack of ONNX reward models (name or folder).", Required = true };
        var k = new Option<int>("--k") { Description = "Candidates (images) per run.", DefaultValueFactory = _ => 8 };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per model after one warm-up.", DefaultValueFactory = _ => 2 };
        var size = new Option<int>("--size") { Description = "Side of the synthetic test images (px).", DefaultValueFactory = _ => 512 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per graph (0: its default).", DefaultValueFactory = _ => 0 };
        var models = new Option<string>("--models") { Description = "Which models: comma-separated clip, sam, captioner (default: those the pack has).", DefaultValueFactory = _ => "" };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file." };
        var command = new Command("onnx", "Time each ONNX reward model of a pack per candidate at K: inside ONNX Runtime vs outside (pre/post-processing).")
        {
            pack, k, repeats, size, threads, models, json,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            int count = parse.GetValue(k), repeat = parse.GetValue(repeats), side = parse.GetValue(size);
            if (count < 1) throw new InputException("--k", "must be at least 1");
            if (repeat < 1) throw new InputException("--repeats", "must be at least 1");
            if (side < 8) throw new InputException("--size", "must be at least 8");
            var onnx = OnnxPack.Load(PackLocator.Default().Locate(parse.GetValue(pack)!));
            var runtime = new OnnxRuntimeOptions(parse.GetValue(threads));
            var wanted = parse.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            bool Want(string name, string kind) => wanted.Count == 0 ? onnx.ComponentPath(name, kind) is not null : wanted.Contains(name);
            foreach (var w in wanted)
                if (w is not ("clip" or "sam" or "captioner")) throw new InputException("--models", $"unknown model \"{w}\"; expected clip, sam, captioner");

            var images = Images(count, side);
            var rows = new List<Row>();
            var memory = new List<MemoryRow>();
            const string prompt = "a photo of two dogs and a red frisbee in a park";
            if (Want("clip", OnnxPack.ClipKind) || Want("sam", OnnxPack.SamKind))
            {
                using var clip = Load("clip (vision + text)", memory, () => onnx.LoadClip(runtime));
                if (Want("clip", OnnxPack.ClipKind))
                {
                    var labels = new SegmentVocabulary().For(prompt).Select(l => $"a photo of a {l}").ToList();
                    memory[^1] = memory[^1] with
                    {
                        RunPeakMiB = RunPeak(() =>
                        {
                            rows.Add(Measure("clip image", count, repeat, [clip.Vision], () => clip.EmbedImages(images)));
                            rows.Add(Measure($"clip text ({labels.Count} labels)", count, repeat, [clip.Text], () => clip.EmbedTexts(labels)));
                        }),
                    };
                }
                if (Want("sam", OnnxPack.SamKind))
                {
                    using var sam = Load("sam (encoder + decoder)", memory, () => onnx.LoadSam(runtime));
                    var (everything, vocabulary) = onnx.SamSettings();
                    // The pack's detector, when it has one, is part of the sam reward: its boxes are SAM prompts too.
                    using var detector = onnx.LoadDetector(runtime);
                    var segmenter = new OnnxSegmenter(sam, clip, vocabulary, new OnnxSegmenterOptions(everything), detector);
                    int segments = 0;
                    memory[^1] = memory[^1] with
                    {
                        RunPeakMiB = RunPeak(() => rows.Add(Measure($"sam everything + clip labels ({everything.PointsPerSide}x{everything.PointsPerSide} points){(detector is null ? "" : " + detector boxes")}", count, repeat,
                            [sam.Encoder, sam.Decoder, clip.Vision, clip.Text, .. detector is null ? Array.Empty<OnnxGraph>() : [detector.Graph]], () => segments = segmenter.Segment(prompt, images).Sum(s => s.Count)))),
                    };
                    rows[^1] = rows[^1] with { Note = $"{segments} segments in {count} images" };
                }
            }
            if (Want("captioner", OnnxPack.CaptionerKind))
            {
                string folder = onnx.Require("captioner", OnnxPack.CaptionerKind, "bench onnx --models captioner");
                using var captioner = Load("captioner", memory, () => new OnnxCaptioner(new OnnxCaptionerOptions(folder, Runtime: runtime)));
                string decoding = captioner.UsesCache ? "with past key values" : "prefix rerun";
                memory[^1] = memory[^1] with
                {
                    RunPeakMiB = RunPeak(() => rows.Add(Measure($"captioner (greedy, 30 tokens max, {decoding})", count, repeat, captioner.Graphs, () => captioner.Caption(images)))),
                };
                if (captioner.UsesCache)
                {
                    // The same export decoded without its cache, for the comparison.
                    using var prefix = new OnnxCaptioner(new OnnxCaptionerOptions(folder, Runtime: runtime, UseCache: false));
                    rows.Add(Measure("captioner (greedy, 30 tokens max, prefix rerun)", count, repeat, prefix.Graphs, () => prefix.Caption(images)));
                }
            }
            if (rows.Count == 0) throw new InputException("--pack", "the pack has none of clip, sam, captioner");

            Console.Out.WriteLine($"pack {onnx.Manifest.Name} ({onnx.Folder}), K = {count}, {side}x{side} images, {repeat} timed runs after a warm-up, {Environment.ProcessorCount} cores");
            Console.Out.WriteLine($"{"model",-58} {"ms/cand",9} {"inside",9} {"outside",9} {"outside %",9}");
            foreach (var r in rows)
                Console.Out.WriteLine($"{r.Model,-58} {r.TotalMs,9:0.0} {r.InsideMs,9:0.0} {r.OutsideMs,9:0.0} {r.OutsidePercent,8:0.0}%{(r.Note is null ? "" : "  " + r.Note)}");
            Console.Out.WriteLine();
            Console.Out.WriteLine($"{"resident memory (MiB)",-58} {"load peak",9} {"loaded",9} {"run peak",9}");
            foreach (var m in memory)
                Console.Out.WriteLine($"{m.Model,-58} {m.LoadPeakMiB,9:0} {m.LoadedMiB,9:0} {m.RunPeakMiB,9:0}");
            Console.Out.WriteLine("load peak / loaded: resident size above the process before loading, at the peak and after; run peak: above the loaded process, during the timed runs (on top of the models loaded before it)");
            if (parse.GetValue(json) is string path)
            {
                var doc = new JsonObject
                {
                    ["pack"] = onnx.Folder,
                    ["k"] = count,
                    ["image_size"] = side,
                    ["repeats"] = repeat,
                    ["cores"] = Environment.ProcessorCount,
                    ["models"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                    {
                        ["model"] = r.Model,
                        ["ms_per_candidate"] = r.TotalMs,
                        ["inside_onnx_ms_per_candidate"] = r.InsideMs,
                        ["outside_onnx_ms_per_candidate"] = r.OutsideMs,
                        ["outside_percent"] = r.OutsidePercent,
                        ["note"] = r.Note,
                    }).ToArray()),
                    ["memory"] = new JsonArray(memory.Select(m => (JsonNode)new JsonObject
                    {
                        ["model"] = m.Model,
                        ["load_peak_mib"] = Math.Round(m.LoadPeakMiB, 1),
                        ["loaded_mib"] = Math.Round(m.LoadedMiB, 1),
                        ["run_peak_mib"] = Math.Round(m.RunPeakMiB, 1),
                    }).ToArray()),
                };
                FineRewards.Contracts.IO.AtomicFile.WriteAllText(path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            return CliErrors.Ok;
        }));
        return command;
    }

    sealed record Row(string Model, double TotalMs, double InsideMs, string? Note = null)
    {
        public double OutsideMs => TotalMs - InsideMs;
        public double OutsidePercent => TotalMs <= 0 ? 0 : 100 * OutsideMs / TotalMs;
    }

    /// <summary>Resident memory of loading a model: the peak while loading and what stays, above the process before it.</summary>
    sealed record MemoryRow(string Model, double LoadPeakMiB, double LoadedMiB, double RunPeakMiB = 0);

    static T Load<T>(string model, List<MemoryRow> memory, Func<T> load)
    {
        ResidentMemory.ResetPeak();
        double before = ResidentMemory.CurrentMiB();
        var loaded = load();
        memory.Add(new MemoryRow(model, ResidentMemory.PeakMiB() - before, ResidentMemory.CurrentMiB() - before));
        return loaded;
    }

    /// <summary>The peak resident size during <paramref name="run"/> above the size before it.</summary>
    static double RunPeak(Action run)
    {
        ResidentMemory.ResetPeak();
        double before = ResidentMemory.CurrentMiB();
        run();
        return ResidentMemory.PeakMiB() - before;
    }

    /// <summary>One warm-up, then <paramref name="repeats"/> timed runs; wall time and time inside the graphs, per candidate.</summary>
    static Row Measure(string model, int k, int repeats, IReadOnlyList<OnnxGraph> graphs, Action run)
    {
        Console.Error.WriteLine($"bench onnx: {model}: warm-up");
        run();
        foreach (var g in graphs) g.ResetTime();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
        {
            run();
            Console.Error.WriteLine($"bench onnx: {model}: run {i + 1}/{repeats} ({clock.Elapsed.TotalSeconds:0.0} s)");
        }
        double total = clock.Elapsed.TotalMilliseconds / repeats / k;
        double inside = graphs.Distinct().Sum(g => g.InsideMs) / repeats / k;
        return new Row(model, total, inside);
    }

    /// <summary>Smooth colour fields with a few discs: something for SAM to find, the same every run.</summary>
    static List<RgbImage> Images(int k, int side)
    {
        var images = new List<RgbImage>(k);
        for (int c = 0; c < k; c++)
        {
            var pixels = new byte[side * side * 3];
            var random = new Random(c);
            var discs = Enumerable.Range(0, 3).Select(_ => (X: random.Next(side), Y: random.Next(side), R: side / 8 + random.Next(side / 6), Colour: new[] { (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256) })).ToList();
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    int o = (y * side + x) * 3;
                    pixels[o] = (byte)(x * 255 / side); pixels[o + 1] = (byte)(y * 255 / side); pixels[o + 2] = (byte)(128 + c * 8);
                    foreach (var d in discs)
                        if ((x - d.X) * (x - d.X) + (y - d.Y) * (y - d.Y) < d.R * d.R) { pixels[o] = d.Colour[0]; pixels[o + 1] = d.Colour[1]; pixels[o + 2] = d.Colour[2]; }
                }
            images.Add(new RgbImage(side, side, pixels));
        }
        return images;
    }
}
