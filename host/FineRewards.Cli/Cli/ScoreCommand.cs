using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Ranking;
using Spectre.Console;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards score`: scores candidate images of one prompt with the fine-grained rewards and ranks them.</summary>
public static class ScoreCommand
{
    public static Command Create(PackRegistry packs)
    {
        var pack = new Option<string>("--pack") { Description = "Model pack name or folder whose rewards score: the Shapes pack (its captioner, segmenter and contrastive model are the readers) or a pack of ONNX reward models (CLIP, SAM; docs/models.md).", DefaultValueFactory = _ => "shapes" };
        var prompt = new Option<string>("--prompt") { Description = "The prompt the images were generated for.", Required = true };
        var images = new Argument<string[]>("images") { Description = "Image files (PNG) or folders of them.", Arity = ArgumentArity.ZeroOrMore };
        var folder = new Option<DirectoryInfo?>("--images") { Description = "A folder of candidate images (*.png, sorted by name); same as giving the folder as an argument." };
        var rewards = new Option<string>("--rewards") { Description = "Comma-separated rewards of the pack (default: the pack's default rewards): caption, sam, sam_coverage, sam_count, sam_relation, clip, random on the Shapes pack (default caption,sam); clip, sam, caption, aesthetic, random on an ONNX pack, as far as it has their models." };
        var judge = new Option<string>("--judge") { Description = "Label judge of the sam reward: lexical, or llm:PATH.gguf (or llm with --gguf PATH). Default: the pack's judge component where it has one, else lexical." };
        var gguf = new Option<FileInfo?>("--gguf") { Description = "The GGUF model of --judge llm." };
        var embedder = new Option<string>("--embedder") { Description = "Text embedder of the caption reward: minilm (all-MiniLM-L6-v2) or clip (the pack's contrastive text tower).", DefaultValueFactory = _ => "minilm" };
        var combine = new Option<string>("--combine") { Description = "How rewards combine into the order: arl (rank sum, the paper), sum, normalized, single:NAME.", DefaultValueFactory = _ => "arl" };
        var seed = new Option<long>("--seed") { Description = "Seed of the random reward.", DefaultValueFactory = _ => 0 };
        var coverage = new Option<double>("--coverage") { Description = "Weight of the sam reward's coverage term for objects the prompt asks for but no segment shows (0 = paper's eq. 5).", DefaultValueFactory = _ => 0 };
        var countAware = new Option<bool>("--count-aware") { Description = "Coverage compares counts (needs --coverage > 0)." };
        var json = new Option<string?>("--json") { Description = "Print JSON with all evidence instead of the table; with a path, write it there (and still print the table).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("score", "Score candidate images of a prompt with caption / segment (sam) / clip / random rewards and rank them (ARL by default).")
        {
            pack, prompt, images, folder, rewards, judge, gguf, embedder, combine, seed, coverage, countAware, json,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            using var scored = packs.Resolve(parse.GetValue(pack)!);
            string? judgeSpec = parse.GetValue(judge);
            if (judgeSpec == "llm")
                judgeSpec = "llm:" + (parse.GetValue(gguf)?.FullName ?? throw new InputException("--gguf", "--judge llm needs --gguf PATH (or write --judge llm:PATH)"));
            var options = new RewardOptions(judgeSpec, parse.GetValue(embedder)!, parse.GetValue(seed), parse.GetValue(coverage), parse.GetValue(countAware));
            if (options.Coverage < 0) throw new InputException("--coverage", $"must be 0 or more, got {options.Coverage}");
            var names = parse.GetValue(rewards) is string list ? ModelPackChecks.ParseRewardNames(list) : scored.Capabilities.Resolve(scored.RewardNames()).DefaultRewards!;
            var method = CombineMethod.Parse(parse.GetValue(combine)!, "--combine");
            var paths = new List<string>(parse.GetValue(images) ?? []);
            if (parse.GetValue(folder) is DirectoryInfo dir) paths.Add(dir.FullName);
            var candidates = LoadImages(paths);
            using var scorer = scored.OpenRewards(names, options);
            var result = scorer.Score(parse.GetValue(prompt)!, candidates.Select(c => (c.Id, c.Image)).ToList(), method);
            var files = candidates.ToDictionary(c => c.Id, c => c.Path);

            bool jsonGiven = parse.GetResult(json) is not null;
            string? jsonPath = parse.GetValue(json);
            if (jsonGiven && string.IsNullOrEmpty(jsonPath))
            {
                Console.Out.WriteLine(ToJson(result, files, scorer).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliErrors.Ok;
            }
            PrintTable(result, Console.Out);
            if (!string.IsNullOrEmpty(jsonPath))
            {
                AtomicFile.WriteAllText(jsonPath, ToJson(result, files, scorer).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                Console.Out.WriteLine($"evidence written to {Path.GetFullPath(jsonPath)}");
            }
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>Files as given, folders as their *.png files sorted by name; ids are file names without extension.</summary>
    public static List<(string Id, string? Path, RgbImage Image)> LoadImages(IReadOnlyList<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p)) files.AddRange(Directory.GetFiles(p, "*.png").Order(StringComparer.Ordinal));
            else if (File.Exists(p)) files.Add(p);
            else throw new InputException(p, "image file or folder does not exist");
        }
        if (files.Count == 0) throw new InputException("images", "no images given; pass PNG files or a folder of them");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return files.Select(f =>
        {
            string id = Path.GetFileNameWithoutExtension(f);
            if (!seen.Add(id)) id = f;   // two files of one name from different folders keep their paths apart
            return (id, (string?)Path.GetFullPath(f), PngCodec.Read(f));
        }).ToList();
    }

    static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    public static void PrintTable(BestOfKResult result, TextWriter output)
    {
        var ranking = result.Ranking!;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // Redirected output would otherwise be cut to 80 columns, wrapping captions and segment lists into slivers.
        if (Console.IsOutputRedirected || output != Console.Out) console.Profile.Width = Math.Max(console.Profile.Width, 200);
        var table = new Table().Title(Markup.Escape($"\"{result.Prompt}\" ({ranking.Method})")).AddColumn("#").AddColumn("candidate");
        var names = result.Candidates[0].Scores.Keys.ToList();
        foreach (var n in names) table.AddColumn(n);
        table.AddColumn("caption").AddColumn("segments (label verdict confidence)");
        bool relations = result.Candidates.Any(c => c.Scores.Values.Any(s => s.Evidence.Relations is not null));
        if (relations) table.AddColumn("relations (verdict)");
        table.AddColumn("flags");
        var order = ranking.Order.ToList();
        foreach (var c in result.Candidates.OrderBy(c => order.IndexOf(c.Id)))
        {
            int place = order.IndexOf(c.Id) + 1;
            var cells = new List<string> { c.Id == ranking.Selected ? $"[green]{place} *[/]" : place.ToString(CultureInfo.InvariantCulture), Markup.Escape(c.Id) };
            cells.AddRange(names.Select(n => F(c.Scores[n].Score)));
            cells.Add(Markup.Escape(c.Scores.Values.Select(s => s.Evidence.Caption).FirstOrDefault(x => x is not null) ?? ""));
            var segments = c.Scores.Values.Select(s => s.Evidence.Segments).FirstOrDefault(x => x is not null);
            cells.Add(Markup.Escape(segments is null ? "" : string.Join("; ", segments.Select(j => $"{j.Segment.Label} {j.Verdict.Word()} {j.Segment.Confidence:0.00}"))));
            if (relations)
            {
                var judged = c.Scores.Values.Select(s => s.Evidence.Relations).FirstOrDefault(x => x is not null) ?? [];
                cells.Add(Markup.Escape(string.Join("; ", judged.Select(j => $"{j.Relation.Subject} {j.Relation.Relation.Words()} {j.Relation.Object}: {j.Verdict.ToString().ToLowerInvariant()}"))));
            }
            cells.Add(Markup.Escape(string.Join(", ", c.Scores.SelectMany(s => (s.Value.Evidence.Flags ?? []).Select(f => $"{s.Key}:{f}")))));
            table.AddRow(cells.Select(x => new Markup(x)).ToArray());
        }
        console.Write(table);
        console.WriteLine($"order ({ranking.Method}): {string.Join(" > ", ranking.Order)}");
    }

    static JsonArray? BoxJson(Box? b) => b is Box box ? new JsonArray(box.X, box.Y, box.Width, box.Height) : null;

    /// <param name="paths">Each candidate id's file.</param>
    public static JsonObject ToJson(BestOfKResult result, IReadOnlyDictionary<string, string?> paths, RewardSet scorer)
    {
        var ranking = result.Ranking!;
        var candidates = new JsonArray();
        var ranks = ranking.Candidates.ToDictionary(c => c.Id);
        foreach (var c in result.Candidates)
        {
            var scores = new JsonObject();
            foreach (var (name, s) in c.Scores)
            {
                var node = new JsonObject { ["score"] = s.Score, ["reward"] = s.Reward, ["rank"] = ranks[c.Id].Ranks[name] };
                if (s.Evidence.Caption is not null) node["caption"] = s.Evidence.Caption;
                if (s.Evidence.Segments is not null)
                    node["segments"] = new JsonArray(s.Evidence.Segments.Select(j => (JsonNode)new JsonObject
                    {
                        ["label"] = j.Segment.Label,
                        ["verdict"] = j.Verdict.Word(),
                        ["confidence"] = j.Segment.Confidence,
                        ["box"] = BoxJson(j.Segment.Box),
                        ["area"] = j.Segment.Mask.Area,
                        ["mask_runs"] = new JsonArray(j.Segment.Mask.Runs.Select(r => (JsonNode)r).ToArray()),
                        ["source"] = j.Segment.Source,
                    }).ToArray());
                if (s.Evidence.Relations is not null)
                    node["relations"] = new JsonArray(s.Evidence.Relations.Select(j => (JsonNode)new JsonObject
                    {
                        ["relation"] = $"{j.Relation.Subject} {j.Relation.Relation.Words()} {j.Relation.Object}",
                        ["subject"] = j.Relation.Subject,
                        ["object"] = j.Relation.Object,
                        ["verdict"] = j.Verdict.ToString().ToLowerInvariant(),
                        ["subject_segment"] = j.SubjectSegment,
                        ["object_segment"] = j.ObjectSegment,
                        ["subject_box"] = BoxJson(j.SubjectBox),
                        ["object_box"] = BoxJson(j.ObjectBox),
                        ["slack"] = j.Slack,
                    }).ToArray());
                if (s.Evidence.Flags is { Count: > 0 }) node["flags"] = new JsonArray(s.Evidence.Flags.Select(f => (JsonNode)f!).ToArray());
                if (s.Evidence.Details is not null) node["details"] = new JsonObject(s.Evidence.Details.Select(d => KeyValuePair.Create(d.Key, (JsonNode?)d.Value)));
                scores[name] = node;
            }
            candidates.Add(new JsonObject
            {
                ["id"] = c.Id,
                ["path"] = paths[c.Id],
                ["place"] = ranking.Order.ToList().IndexOf(c.Id) + 1,
                ["total"] = ranks[c.Id].Total,
                ["rewards"] = scores,
            });
        }
        return new JsonObject
        {
            ["prompt"] = result.Prompt,
            ["method"] = ranking.Method.ToString(),
            ["rewards"] = new JsonArray(scorer.Rewards.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["version"] = r.Reward.Version }).ToArray()),
            ["judge"] = scorer.Judge,
            ["embedder"] = scorer.Options.Embedder,
            ["order"] = new JsonArray(ranking.Order.Select(o => (JsonNode)o!).ToArray()),
            ["selected"] = ranking.Selected,
            ["candidates"] = candidates,
        };
    }
}
