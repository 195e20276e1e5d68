using FineRewards.Contracts;
using SkiaSharp;

namespace FineRewards.Plugin.Ui;

/// <summary>
/// Everything one frame gets from the editor. The canvas is in device pixels; the plugin scales it by
/// <paramref name="Scale"/> and lays out in logical pixels (<paramref name="Width"/> x <paramref name="Height"/>).
/// </summary>
/// <param name="Time">A monotonic clock (tooltips, caret blink, animations); tests pass fixed values.</param>
public sealed record FrameInput(float Width, float Height, float Scale, IReadOnlyList<InputEvent> Events, TimeSpan Time);

public enum CursorKind { Arrow, Hand, IBeam, ResizeHorizontal, Wait }

/// <summary>What the plugin wants from the editor after a frame.</summary>
/// <param name="RepaintAfter">Null: nothing changes until the next input event or the plugin's Invalidated event; otherwise draw again after this delay (zero: as soon as possible).</param>
/// <param name="Requests">Actions on the document, applied in order on the editor's thread (see <see cref="EditorRequest.Apply"/>).</param>
/// <param name="Tooltip">The tooltip drawn this frame, if any (for accessibility bridges and tests).</param>
public sealed record FrameOutput(TimeSpan? RepaintAfter, CursorKind Cursor, IReadOnlyList<EditorRequest> Requests, string? Tooltip);

/// <summary>An action the plugin asks the editor to perform on its document.</summary>
public abstract record EditorRequest
{
    public abstract void Apply(Editor.IEditorHost editor);
}

/// <summary>Place an image as a new layer (one undo step).</summary>
public sealed record PlaceLayerRequest(string LayerName, RgbImage Image) : EditorRequest
{
    public override void Apply(Editor.IEditorHost editor)
    {
        using var undo = editor.BeginUndoGroup($"FineRewards: {LayerName}");
        editor.AddLayer(LayerName, Image);
    }
}

/// <summary>Put text on the clipboard (copy seed, copy prompt).</summary>
public sealed record CopyTextRequest(string Text) : EditorRequest
{
    public override void Apply(Editor.IEditorHost editor) => editor.SetClipboardText(Text);
}

/// <summary>Helpers for embedding editors.</summary>
public static class FrameInputs
{
    /// <summary>Pixels of <paramref name="canvas"/>'s surface for a plugin area of logical size width x height at scale.</summary>
    public static SKSizeI DeviceSize(float width, float height, float scale) =>
        new((int)MathF.Ceiling(width * scale), (int)MathF.Ceiling(height * scale));
}
