using SkiaSharp;

namespace FineRewards.Plugin.Ui;

/// <summary>A box widgets are placed in one after another: downwards (column) or rightwards (row).</summary>
internal sealed class LayoutBox(SKRect bounds, bool horizontal, float spacing)
{
    public SKRect Bounds = bounds;
    public readonly bool Horizontal = horizontal;
    public readonly float Spacing = spacing;
    public float X = bounds.Left, Y = bounds.Top;
    /// <summary>The lowest point anything reached (scroll areas measure their content with it).</summary>
    public float Bottom = bounds.Top;
}

public sealed partial class Ui
{
    readonly Stack<LayoutBox> layouts = new();
    readonly Stack<SKRect> clips = new();
    readonly Stack<(string Id, SKRect View, float Offset)> scrolls = new();

    LayoutBox Layout => layouts.Peek();

    /// <summary>The space left in the current box.</summary>
    public SKRect Remaining
    {
        get
        {
            var l = Layout;
            return l.Horizontal ? new SKRect(l.X, l.Bounds.Top, l.Bounds.Right, l.Bounds.Bottom) : new SKRect(l.Bounds.Left, l.Y, l.Bounds.Right, l.Bounds.Bottom);
        }
    }

    /// <summary>
    /// The next rectangle of the current box. In a column a width of 0 means the full width; in a
    /// row it means the rest of the row, and the height is the row's.
    /// </summary>
    public SKRect Allocate(float width, float height)
    {
        var l = Layout;
        SKRect r;
        if (l.Horizontal)
        {
            float w = width > 0 ? width : Math.Max(0, l.Bounds.Right - l.X);
            r = new SKRect(l.X, l.Bounds.Top, l.X + w, l.Bounds.Top + (height > 0 ? height : l.Bounds.Height));
            l.X += w + l.Spacing;
        }
        else
        {
            float w = width > 0 ? Math.Min(width, l.Bounds.Width) : l.Bounds.Width;
            r = new SKRect(l.Bounds.Left, l.Y, l.Bounds.Left + w, l.Y + height);
            l.Y += height + l.Spacing;
        }
        l.Bottom = Math.Max(l.Bottom, r.Bottom);
        return r;
    }

    public void Space(float height) => Allocate(0, Math.Max(0, height - Layout.Spacing));

    /// <summary>Starts a row of the given height; widgets inside go left to right.</summary>
    public void BeginRow(float height = 0)
    {
        var r = Allocate(0, height > 0 ? height : Theme.RowHeight);
        layouts.Push(new LayoutBox(r, horizontal: true, Theme.Spacing));
    }

    public void EndRow() => layouts.Pop();

    /// <summary>A column in an explicit rectangle (a panel), with padding.</summary>
    public void BeginColumn(SKRect rect, float padding = 0)
    {
        var inner = new SKRect(rect.Left + padding, rect.Top + padding, rect.Right - padding, rect.Bottom - padding);
        layouts.Push(new LayoutBox(inner, horizontal: false, Theme.Spacing));
    }

    /// <summary>Ends a column; returns how tall its content was.</summary>
    public float EndColumn()
    {
        var l = layouts.Pop();
        return l.Bottom - l.Bounds.Top;
    }

    /// <summary>A framed panel with a title bar; returns the content rectangle after starting a column in it.</summary>
    public void BeginPanel(SKRect rect, string title)
    {
        FillRect(rect, Theme.Panel, Theme.Corner);
        StrokeRect(rect, Theme.PanelBorder, 1, Theme.Corner);
        DrawText(title, rect.Left + Theme.Padding, rect.Top + 19, Theme.Text, HeadingFont);
        var content = new SKRect(rect.Left, rect.Top + 26, rect.Right, rect.Bottom);
        BeginColumn(content, Theme.Padding);
    }

    public void EndPanel() => EndColumn();

    /// <summary>Clips drawing and hit-testing to <paramref name="rect"/> until <see cref="PopClip"/>.</summary>
    public void PushClip(SKRect rect)
    {
        var r = rect;
        r.Intersect(Clip);
        clips.Push(r);
        Canvas.Save();
        Canvas.ClipRect(r);
    }

    public void PopClip()
    {
        Canvas.Restore();
        clips.Pop();
    }

    /// <summary>
    /// A vertically scrolling area: content laid out inside moves by the wheel (when the pointer is
    /// over it) and by dragging the scroll bar; a bar appears when the content is taller.
    /// </summary>
    public void BeginScroll(string id, SKRect view)
    {
        float offset = scroll.GetValueOrDefault(id);
        PushClip(view);
        scrolls.Push((id, view, offset));
        var content = new SKRect(view.Left, view.Top - offset, view.Right - 8, float.MaxValue / 4);
        layouts.Push(new LayoutBox(content, horizontal: false, Theme.Spacing));
    }

    public void EndScroll()
    {
        var l = layouts.Pop();
        var (id, view, offset) = scrolls.Pop();
        float contentHeight = l.Bottom - l.Bounds.Top;
        float max = Math.Max(0, contentHeight - view.Height);
        contentHeights[id] = contentHeight;
        // Only an area with something to scroll takes the wheel: the area around it scrolls otherwise.
        if (wheelY != 0 && max > 0 && pointerInside && Hit(view, pointer))
        {
            offset += wheelY;
            wheelY = 0; // consumed: outer areas do not scroll too
            RepaintWithin(TimeSpan.Zero);
        }
        if (max > 0)
        {
            var track = new SKRect(view.Right - 6, view.Top + 2, view.Right - 2, view.Bottom - 2);
            float thumbH = Math.Max(20, track.Height * view.Height / contentHeight);
            var i = Interact(id + ".bar", new SKRect(track.Left - 4, track.Top, track.Right + 2, track.Bottom));
            if (i.Active && pointerInside)
            {
                float t = (pointer.Y - track.Top - thumbH / 2) / Math.Max(1, track.Height - thumbH);
                offset = t * max;
            }
            offset = Math.Clamp(offset, 0, max);
            float thumbY = track.Top + (track.Height - thumbH) * (offset / max);
            FillRect(track, Theme.Widget, 2);
            FillRect(new SKRect(track.Left, thumbY, track.Right, thumbY + thumbH), i.Hovered || i.Active ? Theme.Accent : Theme.TextDim, 2);
        }
        scroll[id] = Math.Clamp(offset, 0, max);
        PopClip();
    }

    /// <summary>Whether any of <paramref name="rect"/> is inside the current clip (scrolled into view).</summary>
    public bool IsVisible(SKRect rect) => Clip.IntersectsWith(rect);

    readonly Dictionary<string, float> contentHeights = new();

    /// <summary>How tall a scroll area's content was when it was last drawn (0 before); panels sized to their content use it.</summary>
    public float ContentHeight(string id) => contentHeights.GetValueOrDefault(id);

    /// <summary>Scrolls an area so that its content's <paramref name="y"/> (from the content's top) is at the top of the view.</summary>
    public void ScrollTo(string id, float y) => scroll[id] = Math.Max(0, y);

    /// <summary>Scroll offset of a scroll area (for tests and restoring views).</summary>
    public float ScrollOffset(string id) => scroll.GetValueOrDefault(id);
}
