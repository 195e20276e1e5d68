using FineRewards.Plugin.Client;
using FineRewards.Plugin.Ui;
using SkiaSharp;

namespace FineRewards.Plugin.Tests;

/// <summary>Drives a plugin like an editor would: queued input events, frames on a raster surface, a controllable clock.</summary>
public sealed class PluginHarness : IDisposable
{
    public FineRewardsPlugin Plugin { get; }
    public FakeEditorHost Editor { get; }
    public SKBitmap Bitmap { get; }
    public float Width { get; }
    public float Height { get; }
    public float Scale { get; }
    public TimeSpan Time { get; set; } = TimeSpan.FromSeconds(10);
    public FrameOutput? Last { get; private set; }
    public List<EditorRequest> Requests { get; } = [];
    readonly List<InputEvent> pending = [];
    readonly SKCanvas canvas;

    public PluginHarness(IHostClient client, FakeEditorHost? editor = null, float width = 1100, float height = 680, float scale = 1)
    {
        Editor = editor ?? new FakeEditorHost();
        Plugin = new FineRewardsPlugin(client, Editor);
        Width = width;
        Height = height;
        Scale = scale;
        var size = FrameInputs.DeviceSize(width, height, scale);
        Bitmap = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKImageInfo.PlatformColorType, SKAlphaType.Premul));
        canvas = new SKCanvas(Bitmap);
    }

    public void Send(params InputEvent[] events) => pending.AddRange(events);

    /// <summary>Draws one frame with the queued events; applies the frame's editor requests.</summary>
    public FrameOutput Frame(TimeSpan? advance = null)
    {
        Time += advance ?? TimeSpan.FromMilliseconds(16);
        var output = Plugin.Frame(canvas, new FrameInput(Width, Height, Scale, pending.ToList(), Time));
        canvas.Flush();
        pending.Clear();
        foreach (var r in output.Requests) { r.Apply(Editor); Requests.Add(r); }
        Last = output;
        return output;
    }

    public SKRect Rect(string id) =>
        Plugin.Ui.WidgetRects.TryGetValue(id, out var r) ? r : throw new Xunit.Sdk.XunitException($"no widget {id} in the last frame; widgets: {string.Join(", ", Plugin.Ui.WidgetRects.Keys.Take(60))}");

    public void Click(string id)
    {
        var r = Rect(id);
        Click(r.MidX, r.MidY);
    }

    public void Click(float x, float y)
    {
        Send(new PointerMoved(x, y), new PointerPressed(x, y), new PointerReleased(x, y));
        Frame();
    }

    public void Type(string id, string text)
    {
        Click(id);
        Send(new TextEntered(text));
        Frame();
    }

    /// <summary>Frames (real time passing) until <paramref name="done"/> holds.</summary>
    public async Task FramesUntilAsync(Func<bool> done, string what, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!done())
        {
            if (DateTime.UtcNow > end) throw new TimeoutException($"waited for {what}; connection: {Plugin.Client.Snapshot.Connection.Message}");
            await Task.Delay(20);
            Frame();
        }
        Frame();
    }

    public byte[] Png()
    {
        using var image = SKImage.FromBitmap(Bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public void Dispose()
    {
        Plugin.Dispose();
        canvas.Dispose();
        Bitmap.Dispose();
    }
}
