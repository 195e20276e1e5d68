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
            var box = ui.Allocate(0, 76);
            bool current = state.CurrentJob == e.JobId;
            ui.FillRect(box, current ? t.WidgetActive.WithAlpha(90) : t.Widget, t.Corner);
            ui.BeginColumn(box, 5);
            ui.BeginRow(16);
            ui.DrawTextIn((e.Favourite ? "★ " : "") + e.Parameters.Prompt, ui.Allocate(0, 0), t.Text, ui.Font);
            ui.EndRow();
            var p = e.Parameters;
            string seed = e.BaseSeed?.ToString(CultureInfo.InvariantCulture) ?? (p.SeedPolicy == Core.Contracts.SeedPolicy.Random ? "random" : p.BaseSeed.ToString(CultureInfo.InvariantCulture));
            ui.BeginRow(14);
            ui.DrawTextIn($"K {p.K} · seed {seed} · {p.Sampler} {p.Steps} · cfg {p.Guidance.ToString("0.#", CultureInfo.InvariantCulture)} · {PromptPanel.CombineNames[(int)p.Combine]} · {e.Created.ToUniversalTime():yyyy-MM-dd HH:mm}",
                ui.Allocate(0, 0), t.TextDim, ui.SmallFont);
            ui.EndRow();
            ui.BeginRow(22);
            float w = (ui.Remaining.Width - 5 * ui.Theme.Spacing) / 6;
            if (ui.Button($"{id}.open", "Open", width: w, small: true)) { state.CurrentJob = e.JobId; state.Focused = null; client.Watch(e.JobId, p); }
            ui.Tooltip("Show this job's candidates again (the host keeps finished jobs).");
            if (ui.Button($"{id}.reuse", "Reuse", width: w, small: true)) { state.Prompt.Load(e.BaseSeed is long b ? p with { BaseSeed = b, SeedPolicy = Core.Contracts.SeedPolicy.Fixed } : p); state.Tab = SideTab.Prompt; }
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
