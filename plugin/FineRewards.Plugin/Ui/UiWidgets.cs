using SkiaSharp;

namespace FineRewards.Plugin.Ui;

public sealed partial class Ui
{
    public void Label(string text, SKColor? color = null, SKFont? font = null, float width = 0)
    {
        var r = Allocate(width, Layout.Horizontal ? 0 : Theme.RowHeight - 4);
        DrawTextIn(text, r, color ?? Theme.Text, font);
    }

    public void Heading(string text) => Label(text, Theme.Text, HeadingFont);

    /// <summary>Word-wrapped text; returns the number of lines.</summary>
    public int Paragraph(string text, SKColor? color = null, SKFont? font = null, int maxLines = int.MaxValue)
    {
        font ??= Font;
        var lines = Wrap(text, Remaining.Width, font, this);
        if (lines.Count > maxLines) { lines = lines.Take(maxLines).ToList(); lines[^1] = Elide(lines[^1] + " …", Remaining.Width, font); }
        float lineHeight = font.Size * 1.35f;
        var r = Allocate(0, lines.Count * lineHeight);
        for (int i = 0; i < lines.Count; i++)
            DrawText(lines[i], r.Left, r.Top + (i + 0.78f) * lineHeight, color ?? Theme.Text, font);
        return lines.Count;
    }

    public void Separator()
    {
        var r = Allocate(0, 1);
        FillRect(r, Theme.PanelBorder);
    }

    /// <returns>True when clicked (pointer pressed and released on it) or, when focused, on Enter.</returns>
    public bool Button(string id, string text, bool enabled = true, float width = 0, bool primary = false, bool small = false)
    {
        var r = Allocate(width, Theme.RowHeight);
        return ButtonAt(id, r, text, enabled, primary, small);
    }

    public bool ButtonAt(string id, SKRect r, string text, bool enabled = true, bool primary = false, bool small = false)
    {
        var i = Interact(id, r, enabled);
        if (i.Hovered && enabled) SetCursor(CursorKind.Hand);
        var back = !enabled ? Theme.Widget : i.Active ? Theme.WidgetActive : primary ? (i.Hovered ? Theme.Accent.WithAlpha(230) : Theme.Accent.WithAlpha(200)) : i.Hovered ? Theme.WidgetHot : Theme.Widget;
        FillRect(r, back, Theme.Corner);
        float pad = small ? 2 : 6;
        DrawTextIn(text, new SKRect(r.Left + pad, r.Top, r.Right - pad, r.Bottom), enabled ? Theme.Text : Theme.Disabled, small ? SmallFont : Font, SKTextAlign.Center);
        return enabled && i.Clicked;
    }

    /// <returns>True when the value changed.</returns>
    public bool Checkbox(string id, string text, ref bool value, bool enabled = true, float width = 0)
    {
        var r = Allocate(width, Theme.RowHeight);
        var i = Interact(id, r, enabled);
        if (i.Hovered && enabled) SetCursor(CursorKind.Hand);
        var box = new SKRect(r.Left, r.MidY - 7, r.Left + 14, r.MidY + 7);
        FillRect(box, i.Hovered ? Theme.WidgetHot : Theme.Widget, 3);
        StrokeRect(box, value ? Theme.Accent : Theme.PanelBorder, 1, 3);
        if (value)
        {
            using var path = new SKPath();
            path.MoveTo(box.Left + 3, box.MidY);
            path.LineTo(box.Left + 6, box.Bottom - 3.5f);
            path.LineTo(box.Right - 3, box.Top + 3.5f);
            Stroke.Color = Theme.Text;
            Stroke.StrokeWidth = 2;
            Canvas.DrawPath(path, Stroke);
            Stroke.StrokeWidth = 1;
        }
        DrawTextIn(text, new SKRect(box.Right + 6, r.Top, r.Right, r.Bottom), enabled ? Theme.Text : Theme.Disabled);
        if (enabled && i.Clicked) { value = !value; return true; }
        return false;
    }

    /// <summary>A row of mutually exclusive choices; returns true when the choice changed.</summary>
    public bool Segmented(string id, IReadOnlyList<string> options, ref int index, bool enabled = true)
    {
        var r = Allocate(0, Theme.RowHeight);
        float w = r.Width / options.Count;
        bool changed = false;
        FillRect(r, Theme.Widget, Theme.Corner);
        for (int k = 0; k < options.Count; k++)
        {
            var cell = new SKRect(r.Left + k * w, r.Top, r.Left + (k + 1) * w, r.Bottom);
            var i = Interact($"{id}.{k}", cell, enabled);
            if (i.Hovered && enabled) SetCursor(CursorKind.Hand);
            if (k == index) FillRect(cell, Theme.WidgetActive, Theme.Corner);
            else if (i.Hovered) FillRect(cell, Theme.WidgetHot, Theme.Corner);
            DrawTextIn(options[k], new SKRect(cell.Left + 3, cell.Top, cell.Right - 3, cell.Bottom), enabled ? Theme.Text : Theme.Disabled, SmallFont, SKTextAlign.Center);
            if (enabled && i.Clicked && index != k) { index = k; changed = true; }
        }
        return changed;
    }

    /// <summary>A horizontal slider with its label and value; dragging sets the value in steps of <paramref name="step"/>.</summary>
    public bool Slider(string id, string label, ref double value, double min, double max, double step, string format = "0.##", bool enabled = true)
    {
        var r = Allocate(0, Theme.RowHeight);
        float labelW = Math.Min(90, r.Width * 0.35f);
        DrawTextIn(label, new SKRect(r.Left, r.Top, r.Left + labelW, r.Bottom), enabled ? Theme.TextDim : Theme.Disabled);
        var valueRect = new SKRect(r.Right - 44, r.Top, r.Right, r.Bottom);
        DrawTextIn(value.ToString(format, System.Globalization.CultureInfo.InvariantCulture), valueRect, enabled ? Theme.Text : Theme.Disabled, Font, SKTextAlign.Right);
        var track = new SKRect(r.Left + labelW + 4, r.Top, valueRect.Left - 8, r.Bottom);
        var i = Interact(id, track, enabled);
        if ((i.Hovered || i.Active) && enabled) SetCursor(CursorKind.ResizeHorizontal);
        double old = value;
        if (enabled && i.Active && (pointerInside || i.Pressed))
        {
            double t = Math.Clamp((pointer.X - track.Left) / Math.Max(1, track.Width), 0, 1);
            value = Math.Round((min + t * (max - min)) / step) * step;
        }
        if (enabled && focused == id)
            foreach (var k in keyboard.OfType<KeyPressed>())
                value += k.Key switch { Key.Left or Key.Down => -step, Key.Right or Key.Up => step, _ => 0 };
        if (enabled && i.Pressed) Focus(id);
        if (enabled) focusOrder.Add(id);
        value = Math.Clamp(value, min, max);
        float frac = (float)((value - min) / (max - min));
        var line = new SKRect(track.Left, track.MidY - 2, track.Right, track.MidY + 2);
        FillRect(line, Theme.Widget, 2);
        FillRect(new SKRect(line.Left, line.Top, line.Left + frac * line.Width, line.Bottom), enabled ? Theme.Accent : Theme.Disabled, 2);
        Fill.Color = i.Active || focused == id ? Theme.Text : i.Hovered ? Theme.Text.WithAlpha(220) : Theme.TextDim;
        Canvas.DrawCircle(line.Left + frac * line.Width, line.MidY, 6, Fill);
        return value != old;
    }

    /// <summary>Whether a foldable section is open; draws its header and toggles on click.</summary>
    public bool Foldout(string id, string title, bool openByDefault = false)
    {
        bool open = folds.TryGetValue(id, out var o) ? o : openByDefault;
        var r = Allocate(0, Theme.RowHeight - 2);
        var i = Interact(id, r);
        if (i.Hovered) SetCursor(CursorKind.Hand);
        if (i.Clicked) { open = !open; folds[id] = open; }
        using (var path = new SKPath())
        {
            float cx = r.Left + 6, cy = r.MidY;
            if (open) { path.MoveTo(cx - 4, cy - 2); path.LineTo(cx + 4, cy - 2); path.LineTo(cx, cy + 3); }
            else { path.MoveTo(cx - 2, cy - 4); path.LineTo(cx + 3, cy); path.LineTo(cx - 2, cy + 4); }
            path.Close();
            Fill.Color = Theme.TextDim;
            Canvas.DrawPath(path, Fill);
        }
        DrawTextIn(title, new SKRect(r.Left + 16, r.Top, r.Right, r.Bottom), i.Hovered ? Theme.Text : Theme.TextDim);
        return open;
    }

    public void SetFold(string id, bool open) => folds[id] = open;
}
