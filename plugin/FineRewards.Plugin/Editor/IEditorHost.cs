using FineRewards.Contracts;

namespace FineRewards.Plugin.Editor;

/// <summary>A rectangle of the document in document pixels.</summary>
public readonly record struct DocumentRect(int X, int Y, int Width, int Height);

/// <summary>
/// What the plugin needs from the editor that embeds it. One adapter per editor; every member is
/// called on the editor's UI thread (the thread that calls <c>FineRewardsPlugin.Frame</c>).
/// </summary>
public interface IEditorHost
{
    /// <summary>Name of the open document; history is kept per document.</summary>
    string DocumentName { get; }
    int DocumentWidth { get; }
    int DocumentHeight { get; }
    /// <summary>The selection's bounds, or null when nothing is selected.</summary>
    DocumentRect? Selection { get; }
    /// <summary>The current layer's pixels (flattened over white where the editor has alpha), or null when there is no layer.</summary>
    RgbImage? ReadCurrentLayer();
    /// <summary>Adds a layer above the current one holding <paramref name="image"/> at the document's top-left.</summary>
    void AddLayer(string name, RgbImage image);
    /// <summary>Everything done until the returned object is disposed is one undo step named <paramref name="name"/>.</summary>
    IDisposable BeginUndoGroup(string name);
    void SetClipboardText(string text);
    /// <summary>Plugin settings (history, profile): a small key-value store the editor persists, per document or globally.</summary>
    string? ReadSetting(string key);
    void WriteSetting(string key, string value);
}
