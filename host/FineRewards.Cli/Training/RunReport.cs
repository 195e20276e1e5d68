using System.Globalization;
using System.Text;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Contracts.Fonts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Training;

namespace FineRewards.Cli.Training;

/// <summary>
/// `finerewards report`: report.md with a table per run, PNG plots (ScottPlot) of reward and
/// accuracy per round for every run, and before/after image grids from each run's previews
/// (same prompts, same seeds, base model then the LoRA of each round).
/// </summary>
public static class RunReport
{
    public sealed record Written(string Markdown, IReadOnlyList<string> Files);

    /// <summary>
    /// The folder's name; where several runs share it (EXP/arl/train, EXP/random/train) the parent's
    /// name joins it (arl-train), so tables, legends and grid files say which run is which.
    /// </summary>
    static string RunName(string dir, IReadOnlyList<string> all)
    {
        static string Leaf(string d) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)));
        string leaf = Leaf(dir);
        if (all.Count(d => Leaf(d) == leaf) < 2) return leaf;
        string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        return parent is null ? leaf : $"{Path.GetFileName(parent)}-{leaf}";
    }

    public static Written Write(IReadOnlyList<string> runDirs, string outDir)
    {
        if (runDirs.Count == 0) throw new InputException("RUN_DIR", "name at least one run folder");
        var runs = new List<(string Name, string Dir, RunManifest Manifest)>();
        foreach (string dir in runDirs)
        {
            string path = Path.Combine(dir, RunManifest.FileName);
            if (!File.Exists(path)) throw new InputException(dir, $"has no {RunManifest.FileName}; expected a folder made by `finerewards train --out`");
            var m = RunManifest.Load(path);
            string name = RunName(dir, runDirs);
            if (runs.Any(r => r.Name == name)) name = $"{name}-{runs.Count + 1}";
            runs.Add((name, Path.GetFullPath(dir), m));
        }
        Directory.CreateDirectory(outDir);
        var files = new List<string>();
        var md = new StringBuilder();
        md.AppendLine("# Training report");
        md.AppendLine();
        md.AppendLine("Each round generates K candidates per prompt with the previous round's LoRA (round 1: the base model), so a round's");
        md.AppendLine("reward mean and accuracy measure the model that round started from. Selected = the image the run kept per prompt.");
        md.AppendLine();

        foreach (var (name, dir, m) in runs)
        {
            var o = m.Options;
            md.AppendLine($"## {name}");
            md.AppendLine();
            md.AppendLine($"pack `{o.Pack}`, {m.PromptCount} prompts, K={o.K}, rewards {string.Join(", ", m.Rewards.Select(r => $"{r.Name} ({r.Version})"))}, " +
                          $"selection `{o.Combine}`, filter top {o.FilterTop.ToString(CultureInfo.InvariantCulture)}, LoRA rank {o.LoraRank}, lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                          $"seed {o.Seed}, extra pairs {m.ExtraPairs}, status {m.Status}, generator `{m.Generator}`.");
            md.AppendLine();
            var rewardNames = m.Rewards.Select(r => r.Name).ToList();
            md.AppendLine("| round | kept | pairs | steps | final loss | " + string.Join(" | ", rewardNames.Select(r => $"{r} mean / selected")) + " | accuracy | selected acc. | any of K |");
            md.AppendLine("| --- | --- | --- | --- | --- | " + string.Join(" | ", rewardNames.Select(_ => "---")) + " | --- | --- | --- |");
            foreach (var r in m.Rounds)
            {
                var a = r.Metrics.Overall;
                md.AppendLine($"| {r.Round} | {r.Kept}/{r.Prompts} | {r.TrainingPairs} | {r.TrainingSteps} | {(r.FinalLoss is double l ? F(l) : "-")} | " +
                              string.Join(" | ", rewardNames.Select(n => $"{F(r.Metrics.RewardMean[n])} / {F(r.Metrics.SelectedMean[n])}")) +
                              $" | {P(a?.Accuracy)} | {P(a?.SelectedAccuracy)} | {P(a?.AnyCorrect)} |");
            }
            md.AppendLine();
            string? grid = Grid(dir, m, Path.Combine(outDir, $"grid_{Safe(name)}.png"));
            if (grid is not null)
            {
                files.Add(grid);
                md.AppendLine($"![before/after {name}]({Path.GetFileName(grid)})");
                md.AppendLine();
                md.AppendLine("Rows: the first prompts of the run, one fixed seed each; columns: the base model, then the LoRA after each round.");
                md.AppendLine();
            }
        }

        ConfigureFont();
        string rewardPlot = Path.Combine(outDir, "reward_per_round.png");
        Plot(rewardPlot, "Mean reward of all candidates per round", "mean reward",
            runs.SelectMany(r => r.Manifest.Rewards.Select(rw => ($"{r.Name} {rw.Name}",
                r.Manifest.Rounds.Select(x => ((double)x.Round, x.Metrics.RewardMean[rw.Name])).ToList()))).ToList());
        files.Add(rewardPlot);
        var plots = new StringBuilder();
        plots.AppendLine($"![reward per round]({Path.GetFileName(rewardPlot)})");
        if (runs.Any(r => r.Manifest.Rounds.Any(x => x.Metrics.Overall is not null)))
        {
            string accuracyPlot = Path.Combine(outDir, "accuracy_per_round.png");
            Plot(accuracyPlot, "Ground-truth accuracy per round", "accuracy",
                runs.Where(r => r.Manifest.Rounds.Any(x => x.Metrics.Overall is not null)).SelectMany(r => new[]
                {
                    ($"{r.Name} all candidates", r.Manifest.Rounds.Where(x => x.Metrics.Overall is not null).Select(x => ((double)x.Round, x.Metrics.Overall!.Accuracy)).ToList()),
                    ($"{r.Name} selected", r.Manifest.Rounds.Where(x => x.Metrics.Overall is not null).Select(x => ((double)x.Round, x.Metrics.Overall!.SelectedAccuracy)).ToList()),
                }).ToList());
            files.Add(accuracyPlot);
            plots.AppendLine($"![accuracy per round]({Path.GetFileName(accuracyPlot)})");
        }
        md.AppendLine("## Plots");
        md.AppendLine();
        md.Append(plots);
        string report = Path.Combine(outDir, "report.md");
        AtomicFile.WriteAllText(report, md.ToString());
        files.Insert(0, report);
        return new Written(report, files);
    }

    static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
    static string P(double? v) => v is double d ? d.ToString("P1", CultureInfo.InvariantCulture) : "-";
    static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    static bool fontReady;

    /// <summary>ScottPlot draws with SkiaSharp, which finds no system fonts on a bare Linux: use the shipped font.</summary>
    static void ConfigureFont()
    {
        if (fontReady) return;
        string path = Path.Combine(Path.GetTempPath(), "finerewards-DejaVuSans.ttf");
        if (!File.Exists(path)) AtomicFile.WriteAllBytes(path, ShippedFont.ReadAllBytes());
        ScottPlot.Fonts.AddFontFile(ShippedFont.FamilyName, path, bold: false, italic: false);
        ScottPlot.Fonts.Default = ShippedFont.FamilyName;
        fontReady = true;
    }

    static void Plot(string path, string title, string yLabel, IReadOnlyList<(string Label, List<(double X, double Y)> Points)> series)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (label, points) in series)
        {
            if (points.Count == 0) continue;
            var scatter = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            scatter.LegendText = label;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1); // rounds are whole numbers
        plot.Title(title);
        plot.XLabel("round");
        plot.YLabel(yLabel);
        // Beside the axes, not over them: a comparison of ten runs has twenty series.
        plot.ShowLegend(ScottPlot.Edge.Right);
        // Through a temporary name, like every file the product writes.
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.png");
        plot.SavePng(temp, 1200, 560);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Rows: preview prompts; columns: previews/r00 (base) .. rNN. Null when the run kept no previews.</summary>
    static string? Grid(string dir, RunManifest m, string path)
    {
        int columns = m.Rounds.Count + 1;
        var rows = new List<List<RgbImage>>();
        for (int p = 0; ; p++)
        {
            var row = new List<RgbImage>();
            for (int r = 0; r < columns; r++)
            {
                string file = Path.Combine(dir, RunLayout.Preview(r, p));
                if (!File.Exists(file)) break;
                row.Add(PngCodec.Decode(File.ReadAllBytes(file), file).Image);
            }
            if (row.Count < columns) break;
            rows.Add(row);
        }
        if (rows.Count == 0) return null;
        int cell = Math.Max(rows.Max(r => r.Max(i => Math.Max(i.Width, i.Height))), 96), gap = 4;
        int width = columns * cell + (columns + 1) * gap, height = rows.Count * cell + (rows.Count + 1) * gap;
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)255);
        for (int y = 0; y < rows.Count; y++)
            for (int x = 0; x < columns; x++)
            {
                var image = rows[y][x];
                int ox = gap + x * (cell + gap), oy = gap + y * (cell + gap);
                for (int py = 0; py < cell; py++)
                    for (int px = 0; px < cell; px++)
                    {
                        int sx = px * image.Width / cell, sy = py * image.Height / cell;
                        Array.Copy(image.Pixels, (sy * image.Width + sx) * 3, pixels, ((oy + py) * width + ox + px) * 3, 3);
                    }
            }
        AtomicFile.WriteAllBytes(path, PngCodec.Encode(new RgbImage(width, height, pixels)));
        return path;
    }
}
