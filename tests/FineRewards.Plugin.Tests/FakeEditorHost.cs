using FineRewards.Contracts;
using FineRewards.Plugin.Editor;

namespace FineRewards.Plugin.Tests;

/// <summary>An editor in memory: layers, undo groups, clipboard and settings are recorded for assertions.</summary>
public sealed class FakeEditorHost(int width = 64, int height = 64) : IEditorHost
{
    public string DocumentName { get; set; } = "test-document";
    public int DocumentWidth => width;
    public int DocumentHeight => height;
    public DocumentRect? Selection { get; set; }
    public List<(string Name, RgbImage Image)> Layers { get; } = [];
    public List<string> UndoGroups { get; } = [];
    public int OpenUndoGroups { get; private set; }
    public string? Clipboard { get; private set; }
    public Dictionary<string, string> Settings { get; } = new();

    public RgbImage? ReadCurrentLayer() => Layers.Count == 0 ? null : Layers[^1].Image;

    public void AddLayer(string name, RgbImage image) => Layers.Add((name, image));

    public IDisposable BeginUndoGroup(string name)
    {
        UndoGroups.Add(name);
        OpenUndoGroups++;
        return new Closer(() => OpenUndoGroups--);
    }

    public void SetClipboardText(string text) => Clipboard = text;
    public string? ReadSetting(string key) => Settings.GetValueOrDefault(key);
    public void WriteSetting(string key, string value) => Settings[key] = value;

    sealed class Closer(Action close) : IDisposable
    {
        public void Dispose() => close();
    }
}
