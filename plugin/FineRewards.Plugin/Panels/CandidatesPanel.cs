using System.Globalization;
using FineRewards.Plugin.Client;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>
/// The K candidates of the current job as a grid: tiles appear as candidates arrive, then show
/// rank, total and one bar per reward once scored (ranked order, best first). The host's choice is
/// marked BEST; clicking a tile focuses it in the breakdown; "Use this one" there overrides the pick.
/// </summary>
public static class CandidatesPanel
{
    public const float MinTile = 132;

    public static void Draw(Ui.Ui ui, PluginState state, JobView? job, SegmentOverlay overlay, SKRect rect)
    {
        string title = job is null ? "Candidates" : job.Ranked
            ? $"Candidates — ranked by {job.Method}"
            : $"Candidates — {job.Arrived} of {job.Parameters.K}";
        ui.BeginPanel(rect, title);
        var area = ui.Remaining;
        if (job is null)
        {
            ui.Paragraph("No job yet. Write a prompt and press Generate: the candidates appear here as the host makes them.", ui.Theme.TextDim);
            ui.EndPanel();
            return;
        }
        ui.BeginRow();
        var head = ui.Allocate(Math.Max(10, ui.Remaining.Width - 150), 0);
        ui.DrawTextIn(PhaseText(job), head, ui.Theme.TextDim, ui.SmallFont);
        ui.Checkbox("candidates.overlays", "segments on tiles", ref state.OverlayOnTiles);
        ui.EndRow();

        var view = ui.Remaining;
        ui.BeginScroll("candidates.scroll", view);
        int columns = Math.Max(1, (int)((view.Width - 8) / MinTile));
        float tileW = (view.Width - 8 - (columns - 1) * ui.Theme.Spacing) / columns;
        int rewards = job.Candidates.Where(c => c?.Scored == true).Select(c => c!.Rewards.Count).DefaultIfEmpty(0).Max();
        float tileH = tileW - 8 + 22 + rewards * 15 + 6;

        // Ranked: best first; before that, by index (and empty slots for what has not arrived yet).
        var order = job.Order?.ToList() ?? Enumerable.Range(0, job.Candidates.Length).ToList();
        int? picked = state.PickedOf(job);
        for (int row = 0; row * columns < order.Count; row++)
        {
            ui.BeginRow(tileH);
            for (int col = 0; col < columns && row * columns + col < order.Count; col++)
            {
                int index = order[row * columns + col];
                var tile = ui.Allocate(tileW, tileH);
                var c = index < job.Candidates.Length ? job.Candidates[index] : null;
                DrawTile(ui, state, job, c, index, tile, picked, overlay);
            }
            ui.EndRow();
        }
        ui.EndScroll();
        ui.EndPanel();
    }

    static string PhaseText(JobView job)
    {
        string text = job.Phase switch
        {
            JobPhase.Submitting => "submitting…",
            JobPhase.Queued => job.QueuePosition is int p ? $"queued, {p} ahead" : "queued",
            JobPhase.Running => job.Steps > 0 ? $"step {job.Step}/{job.Steps}, {job.Arrived}/{job.Parameters.K} ready" : "running",
            JobPhase.Completed => $"done · seed {job.BaseSeed}",
            JobPhase.Failed => $"failed: {job.Error}",
            _ => $"cancelled: {job.Error}",
        };
        return job.StreamProblem is { } problem ? $"{text} · {problem}" : text;
    }

    static void DrawTile(Ui.Ui ui, PluginState state, JobView job, CandidateView? c, int index, SKRect tile, int? picked, SegmentOverlay overlay)
    {
        var t = ui.Theme;
        var i = ui.Interact($"candidates.tile.{index}", tile, c is not null);
        if (!ui.IsVisible(tile)) return; // scrolled out of view: registered for hit-testing, not drawn
        if (i.Hovered && c is not null) ui.SetCursor(Ui.CursorKind.Hand);
        if (i.Clicked) state.Focused = index;
        bool focused = (state.Focused ?? picked) == index;
        ui.FillRect(tile, i.Hovered ? t.WidgetHot : t.Widget, t.Corner);

        var img = new SKRect(tile.Left + 4, tile.Top + 4, tile.Right - 4, tile.Top + 4 + tile.Width - 8);
        if (c?.Preview is { } preview)
        {
            // Nearest-neighbour: small generated images should show their real pixels. With the
            // overlays, image and segments are one cached image.
            if (state.OverlayOnTiles) overlay.DrawComposite(ui, preview, c.Rewards, img, state.Shows);
            else ui.DrawImageNearest(preview, img);
        }
        else
        {
            ui.FillRect(img, t.Background, 2);
            string wait = job.Finished ? "—" : "…";
            ui.DrawTextIn(wait, img, t.TextDim, ui.HeadingFont, SKTextAlign.Center);
        }

        float y = img.Bottom + 4;
        var line = new SKRect(tile.Left + 6, y, tile.Right - 6, y + 16);
        int? rank = job.RankOf(index);
        string head = c is null ? $"#{index} waiting" : rank is int rk
            ? $"{rk}/{job.Parameters.K} · total {Fmt(c.Total)}"
            : c.Scored ? $"total {Fmt(c.Total)}" : $"seed {c.Seed}";
        ui.DrawTextIn(head, line, t.Text, ui.SmallFont);
        y += 20;
        if (c is { Scored: true })
            foreach (var r in c.Rewards)
            {
                var bar = new SKRect(tile.Left + 6, y, tile.Right - 6, y + 12);
                DrawRewardBar(ui, r, job.Parameters.K, bar);
                y += 15;
            }

        // Marks: the host's best, the user's pick, the focused tile. Words, not only colours.
        if (job.Selected == index)
        {
            ui.StrokeRect(Inset(tile, 1.5f), t.Best, 3, t.Corner);
            Badge(ui, "★ BEST", new SKPoint(img.Left + 2, img.Top + 2), t.Best, SKColors.Black);
        }
        if (picked == index && job.Selected != index)
        {
            ui.StrokeRect(Inset(tile, 1.5f), t.Picked, 3, t.Corner);
            Badge(ui, "✓ PICKED", new SKPoint(img.Left + 2, img.Top + 2), t.Picked, SKColors.White);
        }
        else if (picked == index && job.Selected == index && state.Picks.ContainsKey(job.JobId))
            Badge(ui, "✓", new SKPoint(img.Right - 16, img.Top + 2), t.Picked, SKColors.White);
        if (focused) ui.StrokeRect(Inset(tile, 5), t.Text.WithAlpha(160), 1, t.Corner);
    }

    /// <summary>A reward's bar: its length is the rank's share (rank 1 is full), the text its name and score.</summary>
    public static void DrawRewardBar(Ui.Ui ui, RewardView r, int k, SKRect bar)
    {
        var t = ui.Theme;
        float share = k <= 1 ? 1 : (float)Math.Clamp((k - r.Rank) / (k - 1), 0, 1);
        ui.FillRect(bar, t.Background, 2);
        ui.FillRect(new SKRect(bar.Left, bar.Top, bar.Left + Math.Max(2, share * bar.Width), bar.Bottom), t.Accent.WithAlpha(150), 2);
        ui.DrawTextIn($"{r.Reward} {Fmt(r.Score)}", new SKRect(bar.Left + 3, bar.Top, bar.Right - 3, bar.Bottom), t.Text, ui.SmallFont);
        ui.DrawTextIn($"r{Fmt(r.Rank)}", new SKRect(bar.Left + 3, bar.Top, bar.Right - 3, bar.Bottom), t.Text, ui.SmallFont, SKTextAlign.Right);
    }

    static void Badge(Ui.Ui ui, string text, SKPoint at, SKColor back, SKColor fore)
    {
        float w = ui.Measure(text, ui.SmallFont) + 8;
        var r = new SKRect(at.X, at.Y, at.X + w, at.Y + 15);
        ui.FillRect(r, back, 3);
        ui.DrawTextIn(text, new SKRect(r.Left + 4, r.Top, r.Right, r.Bottom), fore, ui.SmallFont);
    }

    static SKRect Inset(SKRect r, float by) => new(r.Left + by, r.Top + by, r.Right - by, r.Bottom - by);

    public static string Fmt(double? v) => v is double d ? d.ToString("0.###", CultureInfo.InvariantCulture) : "–";
}
