using System.Globalization;
using System.Net;
using System.Text;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Cli.Cli;

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
/// The demo's index.html: per prompt what ARL picked and the wrong candidates it ranked below (with the
/// evidence), then a grid of the K candidates with each reward's score, the caption, ARL's place and
/// pick, the ground truth, and the segments outlined by verdict over the untouched image with a table.
/// Verdicts are told by word and symbol as well as colour, as the plugin's legend does. The page only
/// references files in its own folder, so the folder can be zipped or served as it is.
/// </summary>
public static class DemoPage
{
    public const string FileName = "index.html";

    /// <summary>Outline colour per verdict (RGB), the plugin's.</summary>
    static (byte R, byte G, byte B) Colour(Verdict v) => v switch
    {
        Verdict.Certain => (0x3c, 0xd0, 0x6e),
        Verdict.May => (0xf0, 0xb4, 0x2c),
        _ => (0xf0, 0x4a, 0x4a),
    };

    static string Symbol(Verdict v) => v switch { Verdict.Certain => "✓", Verdict.May => "?", _ => "✗" };

    /// <summary>Overlay pixels per image pixel: outlines and hatching are drawn between the image's pixels, not over them.</summary>
    public const int OverlayScale = 4;

    /// <summary>
    /// The image enlarged <see cref="OverlayScale"/> times (nearest neighbour) with each judged segment
    /// outlined in its verdict's colour just outside its mask, so the object's own pixels keep their
    /// colour; "may" adds sparse dots and "unlikely" a sparse cross-hatch inside the mask, so the
    /// verdict is told by pattern as well as colour. "Certain" segments are outlined only.
    /// </summary>
    public static RgbImage Overlay(RgbImage image, IReadOnlyList<JudgedSegment> segments)
    {
        int n = OverlayScale, w = image.Width * n, h = image.Height * n;
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Array.Copy(image.Pixels, ((y / n) * image.Width + x / n) * 3, pixels, (y * w + x) * 3, 3);
        foreach (var s in segments)
        {
            if (s.Segment.Mask.Width != image.Width || s.Segment.Mask.Height != image.Height) continue;
            var bits = s.Segment.Mask.ToBits();
            bool In(int x, int y) => x >= 0 && y >= 0 && x < w && y < h && bits[(y / n) * image.Width + x / n];
            var (r, g, b) = Colour(s.Verdict);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    bool inside = In(x, y);
                    bool outline = !inside && (In(x - 1, y) || In(x + 1, y) || In(x, y - 1) || In(x, y + 1));
                    bool pattern = inside && s.Verdict switch
                    {
                        Verdict.May => x % 6 == 0 && y % 6 == 0,
                        Verdict.Unlikely => (x + y) % 8 == 0 || (x - y + 8 * h) % 8 == 0,
                        _ => false,
                    };
                    if (!outline && !pattern) continue;
                    int o = (y * w + x) * 3;
                    (pixels[o], pixels[o + 1], pixels[o + 2]) = (r, g, b);
                }
        }
        return new RgbImage(w, h, pixels);
    }

    /// <summary>What ARL picked and why the wrong candidates were not: their place, scores against the pick's, the evidence.</summary>
    public static string Explain(DemoPrompt round)
    {
        static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        var pick = round.Candidates.Single(c => c.Selected);
        var wrong = round.Candidates.Where(c => !c.Correct).OrderBy(c => c.ArlPlace).ToList();
        if (wrong.Count == 0) return $"All {round.Candidates.Count} candidates are correct; ARL picked c{pick.Index}.";
        if (!pick.Correct)
            return $"ARL picked c{pick.Index}, which is wrong ({string.Join("; ", pick.Reasons)}): the rewards did not catch it; " +
                   $"{round.Candidates.Count(c => c.Correct)} of {round.Candidates.Count} candidates were correct.";
        var parts = wrong.Select(c =>
        {
            var scores = c.Scores.Select(kv => $"{kv.Key} {F(kv.Value.Score)} vs {F(pick.Scores[kv.Key].Score)}");
            var unlikely = c.Scores.Values.SelectMany(v => v.Evidence.Segments ?? []).Where(s => s.Verdict == Verdict.Unlikely).Select(s => s.Segment.Label).ToList();
            string caption = c.Scores.Values.Select(v => v.Evidence.Caption).FirstOrDefault(t => t is not null) is { } t ? $", captioned “{t}”" : "";
            return $"c{c.Index} (#{c.ArlPlace}, wrong: {string.Join("; ", c.Reasons)}){caption}; {string.Join(", ", scores)}" +
                   (unlikely.Count > 0 ? $"; segments judged unlikely: {string.Join(", ", unlikely)}" : "");
        });
        return $"ARL picked c{pick.Index}, which is correct, and ranked the {wrong.Count} wrong candidate(s) below it: {string.Join(" | ", parts)}.";
    }

    public static void Write(string folder, IReadOnlyList<DemoPrompt> prompts, IReadOnlyList<string> rewardNames, string settings)
    {
        var h = new StringBuilder();
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
        h.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>FineRewards demo: best-of-K on the shapes pack</title>");
        h.AppendLine("<style>body{font-family:sans-serif;margin:1.5em;color:#222}h2{margin-top:1.6em}.grid{display:flex;flex-wrap:wrap;gap:12px}" +
                     ".cand{border:2px solid #ccc;border-radius:6px;padding:8px;width:430px}.cand.sel{border-color:#2a7}" +
                     "img{image-rendering:pixelated;width:192px;height:192px;border:1px solid #ddd}.why{background:#f4f4f4;padding:6px 10px;border-radius:6px;max-width:1300px}table{border-collapse:collapse;font-size:13px;margin-top:6px}" +
                     "td,th{padding:2px 6px;text-align:left;border-bottom:1px solid #eee}.ok{color:#080}.bad{color:#b00}" +
                     ".v-certain{background:#d7f2df}.v-may{background:#fbedc6}.v-unlikely{background:#f8d3d3}.small{color:#666;font-size:12px}</style></head><body>");
        h.AppendLine("<h1>Best-of-K on the built-in shapes pack</h1>");
        h.AppendLine($"<p class=\"small\">{E(settings)}. Left: the candidate; right: the same pixels with its segments outlined by the judge's verdict " +
                     "(✓ certain +0.5: green outline; ? may 0: amber outline and dots; ✗ unlikely −0.5: red outline and cross-hatch). ARL ranks the candidates under each reward and sums the ranks; " +
                     "★ marks its pick. The ground truth is the Shapes world's evaluator: no reward sees it.</p>");
        foreach (var p in prompts)
        {
            h.AppendLine($"<h2>“{E(p.Prompt)}”</h2><p class=\"why\">{E(Explain(p))}</p><div class=\"grid\">");
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
