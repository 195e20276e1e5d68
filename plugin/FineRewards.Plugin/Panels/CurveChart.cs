using System.Globalization;
using SkiaSharp;

namespace FineRewards.Plugin.Panels;

/// <summary>One line of a chart: its name (legend), colour and points in data units.</summary>
public sealed record CurveSeries(string Name, SKColor Colour, IReadOnlyList<SKPoint> Points);

/// <summary>
/// Line charts for the training panel (loss per step, reward per round): axes fitted to the data,
/// min/max labels, a legend with each line's name and last value (never colour alone). Owns one
/// path it reuses every frame.
/// </summary>
public sealed class CurveChart : IDisposable
{
    readonly SKPath path = new();

    public void Draw(Ui.Ui ui, SKRect rect, string title, IReadOnlyList<CurveSeries> series, string xLabel)
    {
        var t = ui.Theme;
        ui.FillRect(rect, t.Background, t.Corner);
        ui.DrawTextIn(title, new SKRect(rect.Left + 6, rect.Top + 2, rect.Right - 6, rect.Top + 16), t.Text, ui.SmallFont);
        // The legend goes right of the title when both fit, else on a line of its own.
        const float legendGap = 10;
        float legendWidth = series.Where(s => s.Points.Count > 0).Sum(s => ui.Measure(Legend(s), ui.SmallFont) + legendGap);
        bool ownLine = ui.Measure(title, ui.SmallFont) + legendWidth + 12 > rect.Width;
        float legendBaseline = rect.Top + (ownLine ? 27 : 13);
        var plot = new SKRect(rect.Left + 40, rect.Top + (ownLine ? 34 : 20), rect.Right - 8, rect.Bottom - 16);
        var points = series.SelectMany(s => s.Points).ToList();
        if (points.Count == 0)
        {
            ui.DrawTextIn("no data yet", plot, t.TextDim, ui.SmallFont, SKTextAlign.Center);
            return;
        }
        float x0 = points.Min(p => p.X), x1 = points.Max(p => p.X), y0 = points.Min(p => p.Y), y1 = points.Max(p => p.Y);
        if (x1 - x0 < 1e-9f) { x0 -= 1; x1 += 1; }
        if (y1 - y0 < 1e-9f) { float pad = Math.Max(Math.Abs(y0) * 0.1f, 0.01f); y0 -= pad; y1 += pad; }
        SKPoint Map(SKPoint p) => new(plot.Left + (p.X - x0) / (x1 - x0) * plot.Width, plot.Bottom - (p.Y - y0) / (y1 - y0) * plot.Height);

        ui.Stroke.Color = t.PanelBorder;
        ui.Canvas.DrawLine(plot.Left, plot.Top, plot.Left, plot.Bottom, ui.Stroke);
        ui.Canvas.DrawLine(plot.Left, plot.Bottom, plot.Right, plot.Bottom, ui.Stroke);
        ui.DrawText(Fmt(y1), plot.Left - 4, plot.Top + 8, t.TextDim, ui.SmallFont, SKTextAlign.Right);
        ui.DrawText(Fmt(y0), plot.Left - 4, plot.Bottom, t.TextDim, ui.SmallFont, SKTextAlign.Right);
        ui.DrawText($"{xLabel} {Fmt(x0)}", plot.Left, rect.Bottom - 3, t.TextDim, ui.SmallFont);
        ui.DrawText(Fmt(x1), plot.Right, rect.Bottom - 3, t.TextDim, ui.SmallFont, SKTextAlign.Right);

        float legendX = ownLine ? rect.Left + 6 + legendWidth - legendGap : rect.Right - 6;
        foreach (var s in series.Reverse())
        {
            if (s.Points.Count == 0) continue;
            path.Reset();
            path.MoveTo(Map(s.Points[0]));
            for (int i = 1; i < s.Points.Count; i++) path.LineTo(Map(s.Points[i]));
            ui.Stroke.Color = s.Colour;
            ui.Stroke.StrokeWidth = 1.5f;
            ui.Canvas.DrawPath(path, ui.Stroke);
            ui.Stroke.StrokeWidth = 1;
            // Few points (rounds): mark each, so one round still shows.
            if (s.Points.Count <= 20)
            {
                ui.Fill.Color = s.Colour;
                foreach (var p in s.Points) ui.Canvas.DrawCircle(Map(p), 2.5f, ui.Fill);
            }
            string legend = Legend(s);
            ui.DrawText(legend, legendX, legendBaseline, s.Colour, ui.SmallFont, SKTextAlign.Right);
            legendX -= ui.Measure(legend, ui.SmallFont) + legendGap;
        }
    }

    static string Legend(CurveSeries s) => $"{s.Name} {Fmt(s.Points[^1].Y)}";

    static string Fmt(float v) => Math.Abs(v) >= 100 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    public void Dispose() => path.Dispose();
}
