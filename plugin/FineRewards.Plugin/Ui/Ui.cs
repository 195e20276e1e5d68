using System.Text;
using SkiaSharp;

namespace FineRewards.Plugin.Ui;

/// <summary>What a custom widget's area saw this frame.</summary>
public readonly record struct Interaction(bool Hovered, bool Pressed, bool Clicked, bool Active, SKPoint Pointer);

/// <summary>
/// An immediate-mode UI on an <see cref="SKCanvas"/>: each frame the panels call widget methods in
/// drawing order; each call lays out, draws, hit-tests and returns what the user did to it. Widgets
/// are named by string ids; the little state that must outlive a frame (focus, caret, scroll
/// offsets, the pressed widget, folds) is kept here under those ids. Coordinates are logical pixels.
/// </summary>
public sealed partial class Ui : IDisposable
{
    public Theme Theme { get; }
    public SKCanvas Canvas { get; private set; } = null!;
    public FrameInput Input { get; private set; } = null!;
    public TimeSpan Time => Input.Time;
    /// <summary>Delay before a hovered widget shows its tooltip.</summary>
    public TimeSpan TooltipDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public readonly SKFont Font, SmallFont, HeadingFont;
    internal readonly SKPaint Fill = new() { IsAntialias = true, Style = SKPaintStyle.Fill };
    internal readonly SKPaint Stroke = new() { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
    internal readonly SKPaint TextPaint = new() { IsAntialias = true };

    // Pointer and keyboard, summarised from the frame's events.
    SKPoint pointer = new(-1, -1);
    bool pointerInside;
    bool pressed, released, pressedRight;
    SKPoint pressAt, releaseAt;
    float wheelY;
    readonly List<InputEvent> keyboard = [];

    // State that outlives frames.
    string? active;               // the widget the pointer went down on, until it goes up
    string? focused;              // receives keyboard input
    bool focusClaimed;            // a widget took focus this frame
    string? hovered, hoveredLast; // topmost widget under the pointer (this frame / last frame)
    TimeSpan hoverSince;
    readonly Dictionary<string, SKRect> rects = new(), rectsLast = new();
    readonly List<string> focusOrder = [], focusOrderLast = [];
    readonly Dictionary<string, float> scroll = new();
    readonly Dictionary<string, bool> folds = new();
    readonly Dictionary<string, int> carets = new();
    string? submitted;

    // Per-frame output.
    CursorKind cursor;
    TimeSpan? repaintAfter;
    string? tooltipText;
    SKPoint tooltipAt;
    bool tooltipAbove;
    string? lastWidget;
    SKRect lastRect;

    public Ui(Theme? theme = null)
    {
        Theme = theme ?? Theme.Dark;
        Font = UiTypeface.Create(Theme.FontSize);
        SmallFont = UiTypeface.Create(Theme.SmallFontSize);
        HeadingFont = UiTypeface.Create(Theme.HeadingFontSize);
        HeadingFont.Embolden = true;
    }

    /// <summary>The widget with keyboard focus.</summary>
    public string? Focused => focused;
    /// <summary>The widget that got Enter this frame.</summary>
    public string? Submitted => submitted;
    /// <summary>Where each widget was drawn in the last finished frame (scripts and tests aim at widgets by id).</summary>
    public IReadOnlyDictionary<string, SKRect> WidgetRects => rects;
    /// <summary>The part of each widget that was visible (inside its clip) in the last finished frame; empty when scrolled away.</summary>
    public IReadOnlyDictionary<string, SKRect> VisibleRects => visible;
    readonly Dictionary<string, SKRect> visible = new();
    public SKPoint Pointer => pointer;
    /// <summary>Where the last frame drew its tooltip (empty: none); tests check that it leaves what it explains visible.</summary>
    public SKRect TooltipRect { get; private set; }
    /// <summary>
    /// Whether this frame's input can change what is drawn (a press, release, key, text or wheel). Widgets
    /// draw before they learn they were clicked, so such a frame is drawn once more without input
    /// (<see cref="FineRewardsPlugin.Frame"/>): what the user sees is the state after the input.
    /// </summary>
    public bool HadActions { get; private set; }
    public bool PointerInside => pointerInside;
    public float WheelY => wheelY;

    /// <param name="clear">Fill the whole area with the background first; false when the caller paints
    /// every pixel itself (the plugin paints only around its panels: a full fill under them costs as
    /// much fill bandwidth as the panels).</param>
    public void Begin(SKCanvas canvas, FrameInput input, bool clear = true)
    {
        Canvas = canvas;
        Input = input;
        pressed = released = pressedRight = false;
        wheelY = 0;
        keyboard.Clear();
        submitted = null;
        HadActions = input.Events.Any(e => e is not PointerMoved);
        foreach (var e in input.Events)
        {
            switch (e)
            {
                case PointerMoved m: pointer = new(m.X, m.Y); pointerInside = true; break;
                case PointerLeft: pointerInside = false; pointer = new(-1, -1); break;
                case PointerPressed p when p.Button == PointerButton.Left:
                    if (!pressed) { pressed = true; pressAt = new(p.X, p.Y); }
                    pointer = new(p.X, p.Y); pointerInside = true;
                    break;
                case PointerPressed p: pressedRight = true; pressAt = new(p.X, p.Y); pointer = new(p.X, p.Y); break;
                case PointerReleased r when r.Button == PointerButton.Left:
                    released = true; releaseAt = new(r.X, r.Y); pointer = new(r.X, r.Y);
                    break;
                case WheelScrolled w: wheelY += w.DeltaY; pointer = new(w.X, w.Y); pointerInside = true; break;
                case KeyPressed or TextEntered: keyboard.Add(e); break;
            }
        }
        rectsLast.Clear();
        foreach (var (k, v) in rects) rectsLast[k] = v;
        rects.Clear();
        visible.Clear();
        focusOrderLast.Clear();
        focusOrderLast.AddRange(focusOrder);
        focusOrder.Clear();
        if (keyboard.OfType<KeyPressed>().FirstOrDefault(k => k.Key == Key.Tab) is { } tab) MoveFocus(tab.Modifiers.HasFlag(KeyModifiers.Shift));
        focusClaimed = false;
        hoveredLast = hovered;
        hovered = null;
        cursor = CursorKind.Arrow;
        repaintAfter = input.Events.Count > 0 ? TimeSpan.Zero : null;
        tooltipText = null;
        TooltipRect = SKRect.Empty;
        layouts.Clear();
        clips.Clear();

        canvas.Save();
        canvas.Scale(input.Scale);
        if (clear)
        {
            Fill.Color = Theme.Background;
            canvas.DrawRect(0, 0, input.Width, input.Height, Fill);
        }
        var root = new SKRect(0, 0, input.Width, input.Height);
        clips.Push(root);
        layouts.Push(new LayoutBox(root, horizontal: false, Theme.Spacing));
    }

    public FrameOutput End(IReadOnlyList<EditorRequest> requests)
    {
        if (hovered is not null && hovered != hoveredLast) hoverSince = Time;
        if (pressed && !focusClaimed) focused = null;
        if (released) active = null;
        if (tooltipText is not null) DrawTooltip();
        if (focused is not null && !focusOrder.Contains(focused)) focused = null; // the field went away
        Canvas.Restore();
        return new FrameOutput(repaintAfter, cursor, requests, tooltipText);
    }

    public void Dispose()
    {
        foreach (var v in scaled.Values) v.Dispose();
        scaled.Clear();
        ClearBlobs();
        Font.Dispose();
        SmallFont.Dispose();
        HeadingFont.Dispose();
        Fill.Dispose();
        Stroke.Dispose();
        TextPaint.Dispose();
    }

    /// <summary>
    /// Sends drawing to <paramref name="target"/> until the scope is disposed (to raster a widget
    /// once and blit it afterwards); layout, hit-testing and the clip stack are not affected.
    /// </summary>
    public CanvasScope DrawInto(SKCanvas target)
    {
        var scope = new CanvasScope(this, Canvas);
        Canvas = target;
        return scope;
    }

    public readonly struct CanvasScope(Ui ui, SKCanvas previous) : IDisposable
    {
        public void Dispose() => ui.Canvas = previous;
    }

    /// <summary>Asks for another frame within <paramref name="delay"/>.</summary>
    public void RepaintWithin(TimeSpan delay)
    {
        if (repaintAfter is null || delay < repaintAfter) repaintAfter = delay;
    }

    public void SetCursor(CursorKind kind) => cursor = kind;

    void MoveFocus(bool backwards)
    {
        if (focusOrderLast.Count == 0) return;
        int at = focused is null ? -1 : focusOrderLast.IndexOf(focused);
        int next = backwards ? (at <= 0 ? focusOrderLast.Count - 1 : at - 1) : (at + 1) % focusOrderLast.Count;
        focused = focusOrderLast[next];
        carets[focused] = int.MaxValue;
    }

    public void Focus(string id)
    {
        focused = id;
        focusClaimed = true;
    }

    // ---- hit-testing -------------------------------------------------------------------------

    SKRect Clip => clips.Peek();

    bool Hit(SKRect rect, SKPoint p) => rect.Contains(p) && Clip.Contains(p);

    /// <summary>Registers a widget's area and reports what the pointer did to it this frame.</summary>
    public Interaction Interact(string id, SKRect rect, bool enabled = true)
    {
        rects[id] = rect;
        var shown = rect;
        visible[id] = shown.IntersectsWith(Clip) ? SKRect.Intersect(shown, Clip) : SKRect.Empty;
        lastWidget = id;
        lastRect = rect;
        bool hover = pointerInside && Hit(rect, pointer) && (active is null || active == id);
        if (hover) hovered = id;
        if (!enabled) return new Interaction(hover, false, false, false, pointer);
        bool press = pressed && Hit(rect, pressAt);
        if (press) active = id;
        bool click = released && active == id && Hit(rect, releaseAt);
        return new Interaction(hover, press, click, active == id, pointer);
    }

    /// <summary>Whether the right button went down on <paramref name="rect"/> this frame.</summary>
    public bool RightPressed(SKRect rect) => pressedRight && Hit(rect, pressAt);

    /// <summary>Attaches a tooltip to the widget drawn last; it shows after <see cref="TooltipDelay"/> of hovering.</summary>
    /// <param name="above">Above the widget instead of below, where what it explains is (a progress bar, a result line).</param>
    public void Tooltip(string text, bool above = false)
    {
        if (lastWidget is null || hovered != lastWidget) return;
        if (above) TooltipAt(text, new SKPoint(lastRect.Left, lastRect.Top - 4), lastWidget, above: true);
        else TooltipAt(text, new SKPoint(lastRect.Left, lastRect.Bottom + 4), lastWidget);
    }

    /// <summary>A tooltip for something that is not a widget (a segment under the pointer), shown after the delay.</summary>
    /// <param name="at">Its top-left corner, or with <paramref name="above"/> its bottom-left.</param>
    public void TooltipAt(string text, SKPoint at, string key, bool above = false)
    {
        bool sameAsBefore = hoveredLast == key;
        TimeSpan shown = sameAsBefore ? Time - hoverSince : TimeSpan.Zero;
        if (shown >= TooltipDelay)
        {
            tooltipText = text;
            tooltipAt = at;
            tooltipAbove = above;
        }
        else RepaintWithin(TooltipDelay - shown);
        hovered = key;
    }

    void DrawTooltip()
    {
        const float pad = 6;
        var lines = tooltipText!.Split('\n');
        float w = lines.Max(l => Font.MeasureText(l)) + 2 * pad;
        float h = lines.Length * 17 + 2 * pad - 2;
        float x = Math.Clamp(tooltipAt.X, 2, Math.Max(2, Input.Width - w - 2));
        float y = tooltipAbove ? tooltipAt.Y - h : tooltipAt.Y;
        if (tooltipAbove && y < 2) y = 2;
        if (!tooltipAbove && y + h > Input.Height - 2) y = Math.Max(2, tooltipAt.Y - h - 28);
        var box = new SKRect(x, y, x + w, y + h);
        TooltipRect = box;
        Fill.Color = Theme.TooltipBack;
        Canvas.DrawRoundRect(box, Theme.Corner, Theme.Corner, Fill);
        Stroke.Color = Theme.PanelBorder;
        Canvas.DrawRoundRect(box, Theme.Corner, Theme.Corner, Stroke);
        for (int i = 0; i < lines.Length; i++)
            DrawText(lines[i], x + pad, y + pad + 12 + i * 17, Theme.Text, Font);
    }

    // ---- drawing helpers ---------------------------------------------------------------------

    public void DrawText(string text, float x, float baseline, SKColor color, SKFont? font = null, SKTextAlign align = SKTextAlign.Left)
    {
        font ??= Font;
        if (Blob(text, font) is not { } blob) return; // nothing to draw (empty text)
        TextPaint.Color = color;
        float dx = align switch { SKTextAlign.Center => -Measure(text, font) / 2, SKTextAlign.Right => -Measure(text, font), _ => 0 };
        Canvas.DrawText(blob, x + dx, baseline, TextPaint);
    }

    readonly Dictionary<(SKFont, string), SKTextBlob?> blobs = new();

    /// <summary>
    /// The text's glyphs, made once per font and text: the same labels are drawn every frame, and
    /// turning characters into glyphs each time was a measurable part of a frame.
    /// </summary>
    SKTextBlob? Blob(string text, SKFont font)
    {
        if (blobs.TryGetValue((font, text), out var blob)) return blob;
        if (blobs.Count > 4096) ClearBlobs();
        return blobs[(font, text)] = SKTextBlob.Create(text, font);
    }

    void ClearBlobs()
    {
        foreach (var b in blobs.Values) b?.Dispose();
        blobs.Clear();
    }

    /// <summary>Text vertically centred in <paramref name="rect"/>, cut with an ellipsis when too wide.</summary>
    public void DrawTextIn(string text, SKRect rect, SKColor color, SKFont? font = null, SKTextAlign align = SKTextAlign.Left)
    {
        font ??= Font;
        string shown = Elide(text, rect.Width, font);
        float baseline = rect.MidY + font.Size * 0.36f;
        float x = align switch { SKTextAlign.Center => rect.MidX, SKTextAlign.Right => rect.Right, _ => rect.Left };
        DrawText(shown, x, baseline, color, font, align);
    }

    readonly Dictionary<(SKFont, string), float> widths = new();

    /// <summary>Width of <paramref name="text"/> in <paramref name="font"/>; cached, since the same labels are measured every frame.</summary>
    public float Measure(string text, SKFont? font = null)
    {
        font ??= Font;
        if (widths.TryGetValue((font, text), out float w)) return w;
        if (widths.Count > 8192) widths.Clear();
        return widths[(font, text)] = font.MeasureText(text);
    }

    readonly Dictionary<(SKFont, string, int), string> elided = new();

    public string Elide(string text, float width, SKFont font)
    {
        if (Measure(text, font) <= width) return text;
        var key = (font, text, (int)(width * 4));
        if (elided.TryGetValue(key, out var cached)) return cached;
        if (elided.Count > 4096) elided.Clear();
        return elided[key] = ElideUncached(text, width, font);
    }

    static string ElideUncached(string text, float width, SKFont font)
    {
        int lo = 0, hi = text.Length;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (font.MeasureText(text.AsSpan(0, mid)) + font.MeasureText("…") <= width) lo = mid; else hi = mid - 1;
        }
        return text[..lo] + "…";
    }

    /// <summary>Splits <paramref name="text"/> into lines no wider than <paramref name="width"/> at spaces.</summary>
    public static List<string> Wrap(string text, float width, SKFont font, Ui? cache = null)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var line = new StringBuilder();
            foreach (var word in paragraph.Split(' '))
            {
                string attempt = line.Length == 0 ? word : line + " " + word;
                if (line.Length > 0 && (cache?.Measure(attempt, font) ?? font.MeasureText(attempt)) > width)
                {
                    lines.Add(line.ToString());
                    line.Clear().Append(word);
                }
                else line.Clear().Append(attempt);
            }
            lines.Add(line.ToString());
        }
        return lines;
    }

    readonly Dictionary<(SKImage, int, int), SKImage> scaled = new(ScaledKey.Instance);

    /// <summary>
    /// Draws a small image enlarged with nearest-neighbour sampling (its real pixels), scaled once per
    /// size and cached: a 1:1 blit of a cached native-order image is far cheaper than scaling every frame.
    /// </summary>
    public void DrawImageNearest(SKImage image, SKRect dest)
    {
        float s = Input.Scale;
        int w = Math.Max(1, (int)MathF.Round(dest.Width * s)), h = Math.Max(1, (int)MathF.Round(dest.Height * s));
        if (!scaled.TryGetValue((image, w, h), out var big))
        {
            if (scaled.Count > 512) { foreach (var v in scaled.Values) v.Dispose(); scaled.Clear(); }
            // Opaque when the image is: Skia then copies rows instead of blending every pixel.
            var alpha = image.AlphaType == SKAlphaType.Opaque ? SKAlphaType.Opaque : SKAlphaType.Premul;
            using var surface = SKSurface.Create(new SKImageInfo(w, h, SKImageInfo.PlatformColorType, alpha));
            surface.Canvas.DrawImage(image, new SKRect(0, 0, w, h), new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
            var snap = surface.Snapshot();
            big = scaled[(image, w, h)] = snap.ToRasterImage(ensurePixelData: true);
            if (!ReferenceEquals(big, snap)) snap.Dispose(); // a raster snapshot is returned as itself
        }
        Canvas.Save();
        Canvas.Scale(1 / s);
        Canvas.DrawImage(big, MathF.Round(dest.Left * s), MathF.Round(dest.Top * s));
        Canvas.Restore();
    }

    sealed class ScaledKey : IEqualityComparer<(SKImage, int, int)>
    {
        public static readonly ScaledKey Instance = new();
        public bool Equals((SKImage, int, int) a, (SKImage, int, int) b) => ReferenceEquals(a.Item1, b.Item1) && a.Item2 == b.Item2 && a.Item3 == b.Item3;
        public int GetHashCode((SKImage, int, int) k) => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Item1), k.Item2, k.Item3);
    }

    public void FillRect(SKRect rect, SKColor color, float corner = 0)
    {
        Fill.Color = color;
        if (corner > 0) Canvas.DrawRoundRect(rect, corner, corner, Fill); else Canvas.DrawRect(rect, Fill);
    }

    public void StrokeRect(SKRect rect, SKColor color, float width = 1, float corner = 0)
    {
        Stroke.Color = color;
        Stroke.StrokeWidth = width;
        if (corner > 0) Canvas.DrawRoundRect(rect, corner, corner, Stroke); else Canvas.DrawRect(rect, Stroke);
        Stroke.StrokeWidth = 1;
    }
}
