using System.Text.Json;
using System.Text.Json.Serialization;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;

namespace FineRewards.Plugin.Panels;

/// <summary>One past job of a document: enough to show, repeat or reopen it.</summary>
public sealed record HistoryEntry(string JobId, DateTimeOffset Created, JobParameters Parameters, long? BaseSeed = null, bool Favourite = false);

/// <summary>
/// The document's past jobs, kept in the editor's settings storage (<see cref="IEditorHost.WriteSetting"/>)
/// as JSON under one key per document. Newest first.
/// </summary>
public sealed class HistoryStore(IEditorHost editor)
{
    public const int MaxEntries = 200;
    static readonly JsonSerializerOptions json = new() { Converters = { new JsonStringEnumConverter() } };
    List<HistoryEntry>? entries;

    public string Key => $"finerewards.history.{editor.DocumentName}";

    public IReadOnlyList<HistoryEntry> Entries => Load();

    List<HistoryEntry> Load()
    {
        if (entries is not null) return entries;
        string? text = editor.ReadSetting(Key);
        try { entries = string.IsNullOrEmpty(text) ? [] : JsonSerializer.Deserialize<List<HistoryEntry>>(text, json) ?? []; }
        catch (JsonException) { entries = []; } // a damaged setting must not break the plugin; it is rewritten on the next change
        return entries;
    }

    void Save() => editor.WriteSetting(Key, JsonSerializer.Serialize(Load(), json));

    public void Add(HistoryEntry entry)
    {
        var list = Load();
        list.RemoveAll(e => e.JobId == entry.JobId);
        list.Insert(0, entry);
        // Favourites are never dropped to make room.
        while (list.Count > MaxEntries && list.FindLastIndex(e => !e.Favourite) is var i and >= 0) list.RemoveAt(i);
        Save();
    }

    public void Update(string jobId, Func<HistoryEntry, HistoryEntry> change)
    {
        var list = Load();
        int i = list.FindIndex(e => e.JobId == jobId);
        if (i < 0) return;
        var next = change(list[i]);
        if (next == list[i]) return;
        list[i] = next;
        Save();
    }

    public void Delete(string jobId)
    {
        if (Load().RemoveAll(e => e.JobId == jobId) > 0) Save();
    }
}
