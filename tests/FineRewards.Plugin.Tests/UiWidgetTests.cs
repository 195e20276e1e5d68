using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin.Tests;

/// <summary>The immediate-mode widgets driven by synthetic events, without the plugin around them.</summary>
public class UiWidgetTests : IDisposable
{
    readonly SKBitmap bitmap = new(new SKImageInfo(400, 300, SKImageInfo.PlatformColorType, SKAlphaType.Premul));
    readonly SKCanvas canvas;
    readonly Ui.Ui ui = new();
    TimeSpan time = TimeSpan.FromSeconds(1);

    public UiWidgetTests() => canvas = new SKCanvas(bitmap);

    public void Dispose()
    {
        ui.Dispose();
        canvas.Dispose();
        bitmap.Dispose();
    }

    FrameOutput Frame(Action<Ui.Ui> body, params InputEvent[] events)
    {
        time += TimeSpan.FromMilliseconds(16);
        ui.Begin(canvas, new FrameInput(400, 300, 1, events, time));
        body(ui);
        return ui.End([]);
    }

    static InputEvent[] ClickAt(SKRect r) => [new PointerMoved(r.MidX, r.MidY), new PointerPressed(r.MidX, r.MidY), new PointerReleased(r.MidX, r.MidY)];

    [Fact]
    public void Text_field_edits_with_caret_keys_and_reports_enter()
    {
        string text = "";
        void Body(Ui.Ui u) => u.TextField("f", ref text);
        Frame(Body);
        Frame(Body, ClickAt(ui.WidgetRects["f"]));
        Assert.Equal("f", ui.Focused);
        Frame(Body, new TextEntered("hello"), new KeyPressed(Key.Left), new KeyPressed(Key.Left), new KeyPressed(Key.Backspace), new TextEntered("L"));
        Assert.Equal("heLlo", text);
        Frame(Body, new KeyPressed(Key.Home), new KeyPressed(Key.Delete), new KeyPressed(Key.End), new TextEntered("!"));
        Assert.Equal("eLlo!", text);
        Frame(Body, new KeyPressed(Key.Enter));
        Assert.Equal("f", ui.Submitted);
        // A click elsewhere takes the focus away; typing then changes nothing.
        Frame(Body, new PointerPressed(390, 290), new PointerReleased(390, 290));
        Assert.Null(ui.Focused);
        Frame(Body, new TextEntered("x"));
        Assert.Equal("eLlo!", text);
    }

    [Fact]
    public void Text_field_filter_keeps_only_accepted_characters()
    {
        string seed = "";
        void Body(Ui.Ui u) => u.TextField("seed", ref seed, accept: char.IsAsciiDigit, maxLength: 4);
        Frame(Body);
        Frame(Body, ClickAt(ui.WidgetRects["seed"]));
        Frame(Body, new TextEntered("1a2-b34567"));
        Assert.Equal("1234", seed);
    }

    [Fact]
    public void Button_clicks_only_when_pressed_and_released_on_it()
    {
        int clicks = 0;
        void Body(Ui.Ui u) { if (u.Button("b", "Go", width: 80)) clicks++; }
        Frame(Body);
        var r = ui.WidgetRects["b"];
        Frame(Body, ClickAt(r));
        Assert.Equal(1, clicks);
        // Pressed on it, released outside: no click.
        Frame(Body, new PointerPressed(r.MidX, r.MidY));
        Frame(Body, new PointerMoved(r.Right + 50, r.MidY), new PointerReleased(r.Right + 50, r.MidY));
        Assert.Equal(1, clicks);
        // Disabled: no click.
        Frame(u => { if (u.Button("b", "Go", enabled: false, width: 80)) clicks++; }, ClickAt(r));
        Assert.Equal(1, clicks);
    }

    [Fact]
    public void Slider_follows_a_drag_in_steps_and_clamps()
    {
        double value = 4;
        void Body(Ui.Ui u) => u.Slider("k", "K", ref value, 1, 16, 1, "0");
        Frame(Body);
        var track = ui.WidgetRects["k"];
        Frame(Body, new PointerMoved(track.Left + 2, track.MidY), new PointerPressed(track.Left + 2, track.MidY));
        Frame(Body, new PointerMoved(track.Left + track.Width * 0.5f, track.MidY));
        Assert.Equal(Math.Round(1 + 0.5 * 15), value);
        Frame(Body, new PointerMoved(track.Right + 100, track.MidY));
        Assert.Equal(16, value);
        Frame(Body, new PointerReleased(track.Right + 100, track.MidY));
        Frame(Body, new PointerMoved(track.Left, track.MidY));
        Assert.Equal(16, value); // released: moving no longer drags
    }

    [Fact]
    public void Wheel_scrolls_the_area_under_the_pointer_within_its_content()
    {
        void Body(Ui.Ui u)
        {
            u.BeginScroll("s", new SKRect(0, 0, 200, 100));
            for (int i = 0; i < 10; i++) u.Label($"row {i}");
            u.EndScroll();
        }
        Frame(Body);
        Frame(Body, new WheelScrolled(50, 50, 0, 60));
        Assert.Equal(60, ui.ScrollOffset("s"));
        Frame(Body, new WheelScrolled(50, 50, 0, 10_000));
        float max = ui.ScrollOffset("s");
        Assert.InRange(max, 150, 250); // 10 rows of 26 px in a 100 px view
        Frame(Body, new WheelScrolled(300, 250, 0, -60)); // outside the area: nothing moves
        Assert.Equal(max, ui.ScrollOffset("s"));
    }

    [Fact]
    public void Tab_moves_focus_between_fields_in_drawing_order()
    {
        string a = "", b = "";
        void Body(Ui.Ui u) { u.TextField("a", ref a); u.TextField("b", ref b); }
        Frame(Body);
        Frame(Body, new KeyPressed(Key.Tab));
        Assert.Equal("a", ui.Focused);
        Frame(Body, new KeyPressed(Key.Tab));
        Assert.Equal("b", ui.Focused);
        Frame(Body, new TextEntered("typed"));
        Assert.Equal(("", "typed"), (a, b));
    }

    [Fact]
    public void Tooltip_appears_after_the_hover_delay_and_asks_for_the_repaint()
    {
        void Body(Ui.Ui u) { u.Button("b", "Go", width: 80); u.Tooltip("does the thing"); }
        Frame(Body);
        var r = ui.WidgetRects["b"];
        var first = Frame(Body, new PointerMoved(r.MidX, r.MidY));
        Assert.Null(first.Tooltip);
        var waiting = Frame(Body);
        Assert.Null(waiting.Tooltip);
        Assert.NotNull(waiting.RepaintAfter); // the editor must come back when the delay is over
        time += TimeSpan.FromMilliseconds(600);
        Assert.Equal("does the thing", Frame(Body).Tooltip);
    }

    [Fact]
    public void HiDpi_scale_draws_at_device_pixels_but_hit_tests_in_logical_ones()
    {
        using var big = new SKBitmap(new SKImageInfo(800, 600, SKImageInfo.PlatformColorType, SKAlphaType.Premul));
        using var bigCanvas = new SKCanvas(big);
        int clicks = 0;
        void Run(params InputEvent[] events)
        {
            ui.Begin(bigCanvas, new FrameInput(400, 300, 2, events, time));
            ui.BeginColumn(new SKRect(0, 0, 400, 300), 10);
            if (ui.Button("b", "Go", width: 80)) clicks++;
            ui.EndColumn();
            ui.End([]);
        }
        Run();
        var r = ui.WidgetRects["b"];
        Assert.Equal(new SKRect(10, 10, 90, 34), r); // logical
        Run(ClickAt(r));
        Assert.Equal(1, clicks);
        // The button's fill is drawn at twice the coordinates.
        Assert.NotEqual(big.GetPixel(1, 1), big.GetPixel(2 * (int)r.MidX, 2 * (int)r.Top + 2));
    }
}
