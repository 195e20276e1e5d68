using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;
using FineRewards.Contracts.IO;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Editor;

namespace FineRewards.Plugin.Panels;

/// <summary>One past job of a document: enough to show, repeat or reopen it.</summary>
/// <param name="Thumbnail">The chosen candidate as a small PNG (base64), once the job was ranked here.</param>
public sealed record HistoryEntry(string JobId, DateTimeOffset Created, JobParameters Parameters, long? BaseSeed = null, bool Favourite = false,
    string? Thumbnail = null);

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
        if (images.Remove(jobId, out var image)) image?.Dispose();
    }

    /// <summary>Side of the stored thumbnails: a few KB of PNG per entry in the editor's settings.</summary>
    public const int ThumbnailSize = 64;

    /// <summary>Keeps the host's choice of a ranked job as the entry's thumbnail (once; the host may forget old jobs).</summary>
    public void RememberThumbnail(JobView job)
    {
        if (!job.Ranked || job.Selected is not int s || s >= job.Candidates.Length || job.Candidates[s]?.Image is not { } image) return;
        if (Load().FirstOrDefault(e => e.JobId == job.JobId) is not { Thumbnail: null }) return;
        var (small, _) = Editor.LayerFit.ToDocument(image, ThumbnailSize, ThumbnailSize);
        Update(job.JobId, e => e with { Thumbnail = Convert.ToBase64String(PngCodec.Encode(small)) });
    }

    readonly Dictionary<string, SkiaSharp.SKImage?> images = new();

    /// <summary>The entry's thumbnail, decoded once; null when it has none or it does not decode.</summary>
    public SkiaSharp.SKImage? ThumbnailImage(HistoryEntry entry)
    {
        if (entry.Thumbnail is null) return null;
        if (images.TryGetValue(entry.JobId, out var image)) return image;
        try { image = ImageCodec.DecodeToSkImage(Convert.FromBase64String(entry.Thumbnail)); }
        catch (Exception e) when (e is FormatException or FineRewards.Contracts.InputException) { image = null; } // a damaged setting shows no picture
        return images[entry.JobId] = image;
    }
}
