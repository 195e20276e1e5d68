using System.Globalization;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>Past jobs of this document: open one again, reuse its parameters, copy seed or prompt, favourite, delete.</summary>
public static class HistoryPanel
{
    public static void Draw(Ui.Ui ui, PluginState state, HistoryStore history, IHostClient client, List<EditorRequest> requests)
    {
        var t = ui.Theme;
        var entries = history.Entries;
        if (entries.Count == 0)
        {
            ui.Paragraph("No jobs for this document yet. Each Generate is kept here with its parameters and seed.", t.TextDim);
            return;
        }
        ui.BeginScroll("history.scroll", ui.Remaining);
        foreach (var e in entries.OrderByDescending(e => e.Favourite).ThenByDescending(e => e.Created).ToList())
        {
            string id = $"history.{e.JobId}";
            var p = e.Parameters;
            string seed = e.BaseSeed?.ToString(CultureInfo.InvariantCulture) ?? (p.SeedPolicy == Contracts.SeedPolicy.Random ? "random" : p.BaseSeed.ToString(CultureInfo.InvariantCulture));
            const float thumb = 56;
            float textW = ui.Remaining.Width - thumb - 3 * 5;
            // The whole prompt (up to three lines) and the settings: nothing cut to fit one line.
            var promptLines = Ui.Ui.Wrap((e.Favourite ? "★ " : "") + p.Prompt, textW, ui.Font, ui);
            if (promptLines.Count > 3) { promptLines = promptLines.Take(3).ToList(); promptLines[^1] = ui.Elide(promptLines[^1] + " …", textW, ui.Font); }
            var meta = Ui.Ui.Wrap($"K {p.K} · seed {seed} · {(p.Sampler.Length > 0 ? p.Sampler : "default sampler")} {p.Steps} steps · cfg {p.Guidance.ToString("0.#", CultureInfo.InvariantCulture)} · {PromptPanel.CombineNames[(int)p.Combine]} · {e.Created.ToUniversalTime():yyyy-MM-dd HH:mm} UTC",
                textW, ui.SmallFont, ui);
            float textH = promptLines.Count * 17 + meta.Count * 14;
            var box = ui.Allocate(0, Math.Max(thumb, textH) + 22 + 3 * 5);
            bool current = state.CurrentJob == e.JobId;
            ui.FillRect(box, current ? t.WidgetActive.WithAlpha(90) : t.Widget, t.Corner);
            var picture = new SKRect(box.Left + 5, box.Top + 5, box.Left + 5 + thumb, box.Top + 5 + thumb);
            if (history.ThumbnailImage(e) is { } image) ui.DrawImageNearest(image, picture);
            else
            {
                ui.FillRect(picture, t.Background, 2);
                ui.DrawTextIn("no image", picture, t.TextDim, ui.SmallFont, SKTextAlign.Center);
            }
            float textX = picture.Right + 5, y = box.Top + 5;
            foreach (var line in promptLines) { ui.DrawText(line, textX, y + 13, t.Text, ui.Font); y += 17; }
            foreach (var line in meta) { ui.DrawText(line, textX, y + 11, t.TextDim, ui.SmallFont); y += 14; }
            ui.BeginColumn(new SKRect(box.Left + 5, box.Bottom - 22 - 5, box.Right - 5, box.Bottom - 5));
            ui.BeginRow(22);
            float w = (ui.Remaining.Width - 5 * ui.Theme.Spacing) / 6;
            if (ui.Button($"{id}.open", "Open", width: w, small: true)) { state.CurrentJob = e.JobId; state.Focused = null; client.Watch(e.JobId, p); }
            ui.Tooltip("Show this job's candidates again (the host keeps finished jobs).");
            if (ui.Button($"{id}.reuse", "Reuse", width: w, small: true)) { state.Prompt.Load(e.BaseSeed is long b ? p with { BaseSeed = b, SeedPolicy = Contracts.SeedPolicy.Fixed } : p); state.Tab = SideTab.Prompt; }
            ui.Tooltip("Load these parameters into the prompt panel (with the seed fixed to this job's).");
            if (ui.Button($"{id}.seed", "Seed", width: w, small: true)) requests.Add(new CopyTextRequest(seed));
            ui.Tooltip("Copy the base seed");
            if (ui.Button($"{id}.prompt", "Text", width: w, small: true)) requests.Add(new CopyTextRequest(p.Prompt));
            ui.Tooltip("Copy the prompt");
            if (ui.Button($"{id}.fav", e.Favourite ? "★" : "☆", width: w, small: true)) history.Update(e.JobId, x => x with { Favourite = !x.Favourite });
            ui.Tooltip(e.Favourite ? "Unmark favourite" : "Mark favourite (kept first, never dropped)");
            if (ui.Button($"{id}.delete", "✕", width: w, small: true)) history.Delete(e.JobId);
            ui.Tooltip("Delete from this document's history (the host keeps its copy)");
            ui.EndRow();
            ui.EndColumn();
        }
        ui.EndScroll();
    }
}
