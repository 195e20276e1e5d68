using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Cli.Doctor;
using FineRewards.Core.Training;
using FineRewards.Cli.Packs;
using FineRewards.Core.Ranking;
using Spectre.Console;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards demo`: the README's first command. It checks the machine (doctor), ranks the bundled
/// best-of-4 example under every combination method (where the paper's rank sum and a plain score
/// sum disagree), then runs the main job on the built-in Shapes pack: best-of-K generation, caption,
/// segment and CLIP rewards, ARL selection, and the ground truth that says whether the pick is right.
/// </summary>
public static class DemoCommand
{
    public const string ExampleResource = "FineRewards.Cli.Examples.best-of-4.json";

    public static Command Create(PackRegistry packs)
    {
        var command = new Command("demo", "Check this machine and rank the bundled best-of-K example with every combination method.");
        var output = new Option<string>("--out") { Description = "Folder for the generated candidates (PNG), their segment overlays, index.html and demo.json.", DefaultValueFactory = _ => "demo-out" };
        command.Options.Add(output);
        command.SetAction(parse => CliErrors.Guard(() => Run(Console.Out, packs, parse.GetValue(output)!)));
        return command;
    }

    public static string ReadExample()
    {
        using var stream = typeof(DemoCommand).Assembly.GetManifestResourceStream(ExampleResource)
            ?? throw new InvalidOperationException($"bundled example {ExampleResource} is missing from the executable");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Three prompts (counting, counting, position) with fixed base seeds, chosen (docs/rewards.md, "The demo") so that
    /// some of the K candidates are wrong: the page then shows what ranking is for, which candidates
    /// ARL ranked below its pick and the evidence that put them there.
    /// </summary>
    public static readonly IReadOnlyList<(string Prompt, long BaseSeed)> DemoPrompts =
        [("two red circles", 500), ("three blue squares", 0), ("a blue square to the left of a yellow triangle", 0)];
    public const int DemoK = 4;

    /// <summary>One best-of-K round of the demo (<see cref="BestOfK"/>): candidates, their scores and evidence, ARL's order, the ground truth.</summary>
    public static DemoPrompt Round(IImageGenerator generator, IReadOnlyList<IReward> rewards, IGroundTruth truth, GenerationSettings g, string prompt, long baseSeed,
        Func<GeneratedCandidate, IReadOnlyDictionary<string, RewardScore>, (string Image, string Overlay)>? files = null)
    {
        var result = BestOfK.Run(generator, rewards, BestOfK.Request(g, prompt, DemoK, baseSeed), new BestOfKSettings(CombineMethod.Arl, Id: i => $"c{i}"));
        var shown = result.Candidates.Select(scored =>
        {
            var c = scored.Generated!;
            var verdict = truth.Evaluate(prompt, c.Image);
            var (image, overlay) = files?.Invoke(c, scored.Scores) ?? ("", "");
            return new DemoCandidate(c.Index, c.Seed, image, overlay, scored.Scores,
                result.Place(scored.Id), result.IsSelected(scored.Id), verdict.Correct, verdict.Reasons);
        }).ToList();
        return new DemoPrompt(prompt, shown);
    }

    static int RunOnShapesPack(IAnsiConsole console, PackRegistry packs, string outFolder)
    {
        using var runtime = packs.Resolve(Diagnostics.DefaultPack);
        if (runtime.Check() is { Ready: false } status)
        {
            console.MarkupLine($"[yellow]The built-in shapes pack was not found, so best-of-K is skipped:[/] {Markup.Escape(string.Join("; ", status.Problems))}");
            return CliErrors.Ok;
        }
        {
            console.MarkupLine($"[bold]Best-of-{DemoK} on the built-in shapes pack[/]: generate, score (caption, sam, clip), rank with ARL, check with the ground truth.");
            var generator = runtime.RequireGenerator();
            var rewards = runtime.CreateRewards(["caption", "sam", "clip"]);
            var truth = runtime.RequireGroundTruth();
            var g = runtime.DefaultGeneration;
            var record = new List<object>();
            var page = new List<DemoPrompt>();
            Directory.CreateDirectory(outFolder);
            for (int p = 0; p < DemoPrompts.Count; p++)
            {
                var (prompt, baseSeed) = DemoPrompts[p];
                var round = Round(generator, rewards, truth, g, prompt, baseSeed, (c, own) =>
                {
                    string image = $"p{p}_c{c.Index}.png", overlay = $"p{p}_c{c.Index}_segments.png";
                    PngCodec.Write(c.Image, Path.Combine(outFolder, image));
                    PngCodec.Write(DemoPage.Overlay(c.Image, own["sam"].Evidence.Segments ?? []), Path.Combine(outFolder, overlay));
                    return (image, overlay);
                });
                var table = new Table().Title(Markup.Escape($"\"{prompt}\" (base seed {baseSeed})")).AddColumn("candidate").AddColumn("seed").AddColumn("caption (model's words)")
                    .AddColumn("caption").AddColumn("sam").AddColumn("clip").AddColumn("arl").AddColumn("ground truth");
                foreach (var c in round.Candidates)
                {
                    var segments = c.Scores["sam"].Evidence.Segments ?? [];
                    table.AddRow(
                        new Markup(c.Selected ? $"[green]c{c.Index} *[/]" : $"c{c.Index}"),
                        new Markup(c.Seed.ToString(CultureInfo.InvariantCulture)),
                        new Markup(Markup.Escape(c.Scores["caption"].Evidence.Caption ?? "")),
                        new Markup(c.Scores["caption"].Score.ToString("0.000", CultureInfo.InvariantCulture)),
                        new Markup(c.Scores["sam"].Score.ToString("0.00", CultureInfo.InvariantCulture)),
                        new Markup(c.Scores["clip"].Score.ToString("0.00", CultureInfo.InvariantCulture)),
                        new Markup($"#{c.ArlPlace}"),
                        new Markup(c.Correct ? "[green]correct[/]" : Markup.Escape("wrong: " + string.Join("; ", c.Reasons))));
                    record.Add(new { prompt, base_seed = baseSeed, candidate = c.Index, seed = c.Seed, image = Path.Combine(outFolder, c.ImageFile),
                        caption = c.Scores["caption"].Evidence.Caption, scores = c.Scores.ToDictionary(s => s.Key, s => s.Value.Score), arl_place = c.ArlPlace,
                        selected = c.Selected, correct = c.Correct, reasons = c.Reasons,
                        segments = segments.Select(s => new { label = s.Segment.Label, verdict = s.Verdict.Word(), confidence = s.Segment.Confidence,
                            box = new[] { s.Segment.Box.X, s.Segment.Box.Y, s.Segment.Box.Width, s.Segment.Box.Height } }) });
                }
                console.Write(table);
                console.MarkupLine(Markup.Escape(DemoPage.Explain(round)));
                page.Add(round);
            }
            DemoPage.Write(outFolder, page, rewards.Select(r => r.Name).ToList(),
                $"K = {DemoK}, sampler {g.Sampler}, {g.Steps} steps, guidance {g.Guidance.ToString(CultureInfo.InvariantCulture)}, rewards caption (captioner + MiniLM), sam (segmenter + lexical judge), clip (pack's contrastive model)");
            AtomicFile.WriteAllText(Path.Combine(outFolder, "demo.json"), JsonSerializer.Serialize(record, new JsonSerializerOptions { WriteIndented = true }));
            console.MarkupLine($"* = selected by ARL. The page with the grid, reward breakdowns and segment verdicts: [bold]{Markup.Escape(Path.GetFullPath(Path.Combine(outFolder, DemoPage.FileName)))}[/]");
            console.MarkupLine($"Images and every score with its evidence: {Markup.Escape(Path.GetFullPath(outFolder))} (demo.json).");
            console.MarkupLine("Next: [bold]finerewards train --pack shapes ...[/] fine-tunes a LoRA on the selected images (docs/training.md).");
        }
        return CliErrors.Ok;
    }

    public static int Run(TextWriter output, PackRegistry packs, string outFolder = "demo-out")
    {
        int doctor = DoctorCommand.Run(asJson: false, output);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.WriteLine();
        console.MarkupLine("[bold]Ranking the bundled example[/] (examples/rank/best-of-4.json): K = 4 candidates per prompt, rewards caption and sam.");

        var (prompts, _) = RankingJson.ParseInput(ReadExample(), ExampleResource);
        var methods = new[] { CombineMethod.Arl, CombineMethod.Sum, CombineMethod.Normalized, CombineMethod.Single("caption"), CombineMethod.Single("sam") };
        foreach (var prompt in prompts)
        {
            var table = new Table().Title(Markup.Escape($"\"{prompt.Prompt}\"")).AddColumn("candidate").AddColumn("caption").AddColumn("sam");
            foreach (var m in methods) table.AddColumn(m.ToString());
            var results = methods.ToDictionary(m => m, m => CandidateRanker.Rank(prompt.Candidates, m, null, prompt.Field));
            for (int i = 0; i < prompt.Candidates.Count; i++)
            {
                var c = prompt.Candidates[i];
                var cells = new List<string>
                {
                    c.Id,
                    c.Scores["caption"].ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
                    c.Scores["sam"].ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
                };
                foreach (var m in methods)
                {
                    var r = results[m];
                    int place = r.Order.ToList().IndexOf(c.Id) + 1;
                    cells.Add(r.Selected == c.Id ? $"[green]#{place} *[/]" : $"#{place}");
                }
                table.AddRow(cells.Select(s => new Markup(s)).ToArray());
            }
            console.Write(table);
        }
        console.MarkupLine("#n = place in that method's order; * = selected. arl = sum of per-reward ranks (the paper's Assemble Reward-ranked Learning); ties share the mean rank and go to the lower index.");
        console.MarkupLine("Next: [bold]finerewards rank --method arl --input examples/rank/best-of-4.json[/] prints the same as JSON.");
        console.WriteLine();
        return Math.Max(doctor, RunOnShapesPack(console, packs, outFolder));
    }
}
