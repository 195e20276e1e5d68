using System.Globalization;
using System.Net;
using System.Text;
using FineRewards.Core.Contracts;
using FineRewards.Core.IO;

namespace FineRewards.Host.Cli;

/// <summary>One candidate of the demo as the page shows it.</summary>
public sealed record DemoCandidate(
    int Index,
    long Seed,
    string ImageFile,
    string OverlayFile,
    IReadOnlyDictionary<string, RewardScore> Scores,
    int ArlPlace,
    bool Selected,
    bool Correct,
    IReadOnlyList<string> Reasons);

public sealed record DemoPrompt(string Prompt, IReadOnlyList<DemoCandidate> Candidates);

/// <summary>
/// The demo's index.html: per prompt a grid of the K candidates with each reward's score, the caption,
/// ARL's place and pick, the ground truth, and the segments tinted by verdict with a table beside them.
/// Verdicts are told by word and symbol as well as colour, as the plugin's legend does. The page only
/// references files in its own folder, so the folder can be zipped or served as it is.
/// </summary>
public static class DemoPage
{
    public const string FileName = "index.html";

    /// <summary>Tint per verdict (RGB), mixed 50% into the mask's pixels.</summary>
    static (byte R, byte G, byte B) Tint(Verdict v) => v switch
    {
        Verdict.Certain => (0, 170, 60),
        Verdict.May => (240, 170, 0),
        _ => (220, 30, 30),
    };

    static string Symbol(Verdict v) => v switch { Verdict.Certain => "✓", Verdict.May => "?", _ => "✗" };

    /// <summary>The image with every judged segment's mask tinted by its verdict.</summary>
    public static RgbImage Overlay(RgbImage image, IReadOnlyList<JudgedSegment> segments)
    {
        var pixels = (byte[])image.Pixels.Clone();
        foreach (var s in segments)
        {
            if (s.Segment.Mask.Width != image.Width || s.Segment.Mask.Height != image.Height) continue;
            var bits = s.Segment.Mask.ToBits();
            var (r, g, b) = Tint(s.Verdict);
            for (int i = 0; i < bits.Length; i++)
            {
                if (!bits[i]) continue;
                pixels[3 * i] = (byte)((pixels[3 * i] + r) / 2);
                pixels[3 * i + 1] = (byte)((pixels[3 * i + 1] + g) / 2);
                pixels[3 * i + 2] = (byte)((pixels[3 * i + 2] + b) / 2);
            }
        }
        return new RgbImage(image.Width, image.Height, pixels);
    }

    public static void Write(string folder, IReadOnlyList<DemoPrompt> prompts, IReadOnlyList<string> rewardNames, string settings)
    {
        var h = new StringBuilder();
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
        h.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>FineRewards demo: best-of-K on the shapes pack</title>");
        h.AppendLine("<style>body{font-family:sans-serif;margin:1.5em;color:#222}h2{margin-top:1.6em}.grid{display:flex;flex-wrap:wrap;gap:12px}" +
                     ".cand{border:2px solid #ccc;border-radius:6px;padding:8px;width:430px}.cand.sel{border-color:#2a7}" +
                     "img{image-rendering:pixelated;width:192px;height:192px;border:1px solid #ddd}table{border-collapse:collapse;font-size:13px;margin-top:6px}" +
                     "td,th{padding:2px 6px;text-align:left;border-bottom:1px solid #eee}.ok{color:#080}.bad{color:#b00}" +
                     ".v-certain{background:#d7f2df}.v-may{background:#fbedc6}.v-unlikely{background:#f8d3d3}.small{color:#666;font-size:12px}</style></head><body>");
        h.AppendLine("<h1>Best-of-K on the built-in shapes pack</h1>");
        h.AppendLine($"<p class=\"small\">{E(settings)}. Left: the candidate; right: its segments tinted by the judge's verdict " +
                     "(✓ certain +0.5, ? may 0, ✗ unlikely −0.5). ARL ranks the candidates under each reward and sums the ranks; " +
                     "★ marks its pick. The ground truth is the Shapes world's evaluator: no reward sees it.</p>");
        foreach (var p in prompts)
        {
            h.AppendLine($"<h2>“{E(p.Prompt)}”</h2><div class=\"grid\">");
            foreach (var c in p.Candidates.OrderBy(c => c.ArlPlace))
            {
                h.AppendLine($"<div class=\"cand{(c.Selected ? " sel" : "")}\">");
                h.AppendLine($"<div><b>c{c.Index}</b> seed {c.Seed} · ARL #{c.ArlPlace}{(c.Selected ? " ★ selected" : "")} · " +
                             (c.Correct ? "<span class=\"ok\">correct</span>" : $"<span class=\"bad\">wrong: {E(string.Join("; ", c.Reasons))}</span>") + "</div>");
                h.AppendLine($"<img src=\"{E(c.ImageFile)}\" alt=\"candidate {c.Index}\"> <img src=\"{E(c.OverlayFile)}\" alt=\"segments of candidate {c.Index}\">");
                h.AppendLine("<table><tr><th>reward</th><th>score</th><th>evidence</th></tr>");
                foreach (var name in rewardNames)
                {
                    if (!c.Scores.TryGetValue(name, out var s)) continue;
                    string evidence = s.Evidence.Caption is { } caption ? $"caption: “{E(caption)}”" : "";
                    if (s.Evidence.Flags is { Count: > 0 } flags) evidence += $" flags: {E(string.Join(", ", flags))}";
                    h.AppendLine($"<tr><td>{E(name)}</td><td>{F(s.Score)}</td><td>{evidence}</td></tr>");
                }
                h.AppendLine("</table>");
                var segments = c.Scores.Values.FirstOrDefault(s => s.Evidence.Segments is not null)?.Evidence.Segments ?? [];
                h.AppendLine("<table><tr><th>segment</th><th>verdict</th><th>confidence</th><th>box (x, y, w, h)</th></tr>");
                foreach (var s in segments)
                {
                    string word = s.Verdict.Word();
                    var b = s.Segment.Box;
                    h.AppendLine($"<tr class=\"v-{word}\"><td>{E(s.Segment.Label)}</td><td>{Symbol(s.Verdict)} {word}</td><td>{F(s.Segment.Confidence)}</td>" +
                                 $"<td>{b.X:0}, {b.Y:0}, {b.Width:0}, {b.Height:0}</td></tr>");
                }
                if (segments.Count == 0) h.AppendLine("<tr><td colspan=\"4\">no segments</td></tr>");
                h.AppendLine("</table></div>");
            }
            h.AppendLine("</div>");
        }
        h.AppendLine("<p class=\"small\">Every score with its evidence: demo.json. Next: <code>finerewards train --pack shapes ...</code> fine-tunes a LoRA on the selected images.</p>");
        h.AppendLine("</body></html>");
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), h.ToString());
    }
}
