using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;

namespace FineRewards.Examples.HeadlessEditor;

/// <summary>
/// The headless editor's document: a stack of RGB layers in memory, undo groups logged, the
/// clipboard printed, settings kept in a JSON file (written atomically) so history survives runs.
/// </summary>
public sealed class HeadlessDocument(string name, int width, int height, string? settingsPath) : IEditorHost
{
    readonly Dictionary<string, string> settings = Load(settingsPath);

    public string DocumentName => name;
    public int DocumentWidth => width;
    public int DocumentHeight => height;
    public DocumentRect? Selection { get; set; }
    public List<(string Name, RgbImage Image)> Layers { get; } = [];
    public List<string> Log { get; } = [];
    public string? Clipboard { get; private set; }

    static Dictionary<string, string> Load(string? path)
    {
        if (path is null || !File.Exists(path)) return new();
        try { return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? new(); }
        catch (JsonException e) { throw new FineRewards.Contracts.InputException(path, $"settings file is not a JSON object of strings: {e.Message}"); }
    }

    public RgbImage? ReadCurrentLayer() => Layers.Count == 0 ? null : Layers[^1].Image;

    public void AddLayer(string layerName, RgbImage image)
    {
        Layers.Add((layerName, image));
        Log.Add($"layer added: {layerName} ({image.Width}x{image.Height})");
    }

    public IDisposable BeginUndoGroup(string groupName)
    {
        Log.Add($"undo group: {groupName}");
        return new End(() => Log.Add($"undo group closed: {groupName}"));
    }

    public void SetClipboardText(string text)
    {
        Clipboard = text;
        Log.Add($"clipboard: {text}");
    }

    public string? ReadSetting(string key) => settings.GetValueOrDefault(key);

    public void WriteSetting(string key, string value)
    {
        settings[key] = value;
        if (settingsPath is not null) AtomicFile.WriteAllText(settingsPath, JsonSerializer.Serialize(settings));
    }

    /// <summary>Writes each layer as layer_N.png.</summary>
    public void SaveLayers(string folder)
    {
        for (int i = 0; i < Layers.Count; i++)
            AtomicFile.WriteAllBytes(Path.Combine(folder, $"layer_{i + 1}.png"), PngCodec.Encode(Layers[i].Image));
    }

    sealed class End(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
