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

    public static void Draw(Ui.Ui ui, PluginState state, JobView? job, SegmentOverlay overlay, TileCache tiles, SKRect rect)
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
        var (columns, tileW, tileH) = Grid(ui, job, view.Width);

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
                DrawTile(ui, state, job, c, index, tile, picked, overlay, tiles);
            }
            ui.EndRow();
        }
        ui.EndScroll();
        ui.EndPanel();
    }

    /// <summary>Columns and tile size of the grid in a view <paramref name="width"/> wide.</summary>
    static (int Columns, float TileW, float TileH) Grid(Ui.Ui ui, JobView job, float width)
    {
        int columns = Math.Max(1, (int)((width - 8) / MinTile));
        float tileW = (width - 8 - (columns - 1) * ui.Theme.Spacing) / columns;
        int rewards = job.Candidates.Where(c => c?.Scored == true).Select(c => c!.Rewards.Count).DefaultIfEmpty(0).Max();
        return (columns, tileW, tileW - 8 + 22 + rewards * 15 + 6);
    }

    /// <summary>The panel's height with every tile in view, for a panel <paramref name="width"/> wide (the docked layout stacks it).</summary>
    public static float Height(Ui.Ui ui, JobView? job, float width)
    {
        float pad = ui.Theme.Padding, chrome = 26 + 2 * pad;
        if (job is null) return chrome + 3 * ui.Font.Size * 1.35f;
        var (columns, _, tileH) = Grid(ui, job, width - 2 * pad);
        int count = job.Order?.Count ?? job.Candidates.Length;
        int rows = (count + columns - 1) / columns;
        return chrome + ui.Theme.RowHeight + ui.Theme.Spacing + rows * (tileH + ui.Theme.Spacing);
    }

    public static string PhaseText(JobView job)
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

    static void DrawTile(Ui.Ui ui, PluginState state, JobView job, CandidateView? c, int index, SKRect tile, int? picked, SegmentOverlay overlay, TileCache tiles)
    {
        var i = ui.Interact($"candidates.tile.{index}", tile, c is not null);
        if (!ui.IsVisible(tile)) return; // scrolled out of view: registered for hit-testing, not drawn
        if (i.Hovered && c is not null) ui.SetCursor(Ui.CursorKind.Hand);
        if (i.Clicked) state.Focused = index;
        bool focused = (state.Focused ?? picked) == index;
        // Everything a tile shows, so an unchanged tile is one cached blit.
        int filter = !state.OverlayOnTiles ? 0 : 8 | (state.Shows(Contracts.Verdict.Certain) ? 1 : 0) | (state.Shows(Contracts.Verdict.May) ? 2 : 0) | (state.Shows(Contracts.Verdict.Unlikely) ? 4 : 0);
        var key = new TileKey(c, index, job.RankOf(index), job.Parameters.K, job.Finished, job.Selected == index, picked,
            state.Picks.ContainsKey(job.JobId), focused, i.Hovered, filter);
        tiles.Draw(ui, tile, key, () => DrawTileContent(ui, state, job, c, index, tile, picked, overlay, focused, i.Hovered));
    }

    static void DrawTileContent(Ui.Ui ui, PluginState state, JobView job, CandidateView? c, int index, SKRect tile, int? picked, SegmentOverlay overlay, bool focused, bool hovered)
    {
        var t = ui.Theme;
        ui.FillRect(tile, hovered ? t.WidgetHot : t.Widget, t.Corner);

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
            ? $"{rk}/{job.Parameters.K} · {TotalText(job, c.Total)}"
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

    /// <summary>
    /// A reward's rank as a bar: rank 1 is full, rank K a sliver, and the text says the same rank
    /// (scores are in the breakdown), so length and words never disagree.
    /// </summary>
    public static void DrawRewardBar(Ui.Ui ui, RewardView r, int k, SKRect bar)
    {
        var t = ui.Theme;
        float share = k <= 1 ? 1 : (float)Math.Clamp((k - r.Rank) / (k - 1), 0, 1);
        ui.FillRect(bar, t.Background, 2);
        ui.FillRect(new SKRect(bar.Left, bar.Top, bar.Left + Math.Max(2, share * bar.Width), bar.Bottom), t.Accent.WithAlpha(150), 2);
        string rank = RankText(r.Rank, k);
        float rankW = ui.Measure(rank, ui.SmallFont) + 6;
        ui.DrawTextIn(r.Reward, new SKRect(bar.Left + 3, bar.Top, bar.Right - rankW, bar.Bottom), t.Text, ui.SmallFont);
        ui.DrawTextIn(rank, new SKRect(bar.Right - rankW, bar.Top, bar.Right - 3, bar.Bottom), t.Text, ui.SmallFont, SKTextAlign.Right);
    }

    /// <summary>"#1/4"; a shared (averaged) rank says it is a tie: "#2.5/4 tie".</summary>
    public static string RankText(double rank, int k) => $"#{Fmt(rank)}/{k}{(rank != Math.Floor(rank) ? " tie" : "")}";

    static void Badge(Ui.Ui ui, string text, SKPoint at, SKColor back, SKColor fore)
    {
        float w = ui.Measure(text, ui.SmallFont) + 8;
        var r = new SKRect(at.X, at.Y, at.X + w, at.Y + 15);
        ui.FillRect(r, back, 3);
        ui.DrawTextIn(text, new SKRect(r.Left + 4, r.Top, r.Right, r.Bottom), fore, ui.SmallFont);
    }

    static SKRect Inset(SKRect r, float by) => new(r.Left + by, r.Top + by, r.Right - by, r.Bottom - by);

    /// <summary>A total says how it compares: a rank sum (ARL) is better when lower.</summary>
    public static string TotalText(JobView job, double? total) => job.Method switch
    {
        null or "arl" => $"rank sum {Fmt(total)}",
        { } m when m.StartsWith("single:", StringComparison.Ordinal) => $"rank {Fmt(total)}",
        _ => $"total {Fmt(total)}",
    };

    public static string Fmt(double? v) => v is double d ? d.ToString("0.###", CultureInfo.InvariantCulture) : "–";
}

/// <summary>What decides a candidate tile's pixels (besides its size and the theme).</summary>
public readonly record struct TileKey(CandidateView? Candidate, int Index, int? Rank, int K, bool JobFinished, bool Best, int? Picked,
    bool PickOverridden, bool Focused, bool Hovered, int OverlayFilter)
{
    // Snapshot candidates never change: compare by reference.
    public bool Equals(TileKey o) => ReferenceEquals(Candidate, o.Candidate) && Index == o.Index && Rank == o.Rank && K == o.K
        && JobFinished == o.JobFinished && Best == o.Best && Picked == o.Picked && PickOverridden == o.PickOverridden
        && Focused == o.Focused && Hovered == o.Hovered && OverlayFilter == o.OverlayFilter;
    public override int GetHashCode() => HashCode.Combine(Candidate is null ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Candidate),
        Index, Rank, HashCode.Combine(K, JobFinished, Best, Picked, PickOverridden), Focused, Hovered, OverlayFilter);
}

/// <summary>
/// Candidate tiles rastered once per look (<see cref="TileKey"/>) and size, then blitted as one
/// opaque image: a grid of 16 unchanged tiles costs 16 row copies instead of fills, text and
/// bars per tile. Tiles sit on the panel colour, which fills their rounded corners.
/// </summary>
public sealed class TileCache : IDisposable
{
    const int Keep = 64;
    readonly Dictionary<(TileKey, int, int), (SKImage Image, long Frame)> images = new();
    long frame;
    TimeSpan frameTime = TimeSpan.MinValue;

    public int Count => images.Count;

    public void Draw(Ui.Ui ui, SKRect tile, TileKey key, Action draw)
    {
        if (ui.Time != frameTime) { frameTime = ui.Time; frame++; Trim(); }
        float scale = ui.Input.Scale;
        // The tile's device pixels: whole pixels, as a direct draw would cover them.
        int x0 = (int)MathF.Round(tile.Left * scale), y0 = (int)MathF.Round(tile.Top * scale);
        int w = (int)MathF.Round(tile.Right * scale) - x0, h = (int)MathF.Round(tile.Bottom * scale) - y0;
        if (w <= 0 || h <= 0) return;
        if (!images.TryGetValue((key, w, h), out var entry))
        {
            using var surface = SKSurface.Create(new SKImageInfo(w, h, SKImageInfo.PlatformColorType, SKAlphaType.Opaque))
                ?? throw new InvalidOperationException($"SkiaSharp could not make a {w}x{h} surface");
            surface.Canvas.Clear(ui.Theme.Panel);
            surface.Canvas.Translate(-x0, -y0);
            surface.Canvas.Scale(scale);
            using (ui.DrawInto(surface.Canvas)) draw();
            var snapshot = surface.Snapshot();
            var image = snapshot.ToRasterImage(ensurePixelData: true);
            if (!ReferenceEquals(image, snapshot)) snapshot.Dispose(); // a raster snapshot is returned as itself
            entry = (image, frame);
        }
        images[(key, w, h)] = (entry.Image, frame);
        var canvas = ui.Canvas;
        canvas.Save();
        canvas.Scale(1 / scale);
        canvas.DrawImage(entry.Image, x0, y0);
        canvas.Restore();
    }

    /// <summary>Past <see cref="Keep"/> tiles, drops those the last frame did not draw (old jobs, old looks).</summary>
    void Trim()
    {
        if (images.Count <= Keep) return;
        foreach (var (k, v) in images.Where(e => e.Value.Frame < frame - 1).ToList())
        {
            v.Image.Dispose();
            images.Remove(k);
        }
    }

    public void Dispose()
    {
        foreach (var v in images.Values) v.Image.Dispose();
        images.Clear();
    }
}
