using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Judge.Llm;

/// <summary>What makes two questions the same: the prompt, the label, the exact model file and the question wording.</summary>
public readonly record struct CacheKey(string ModelSha256, string TemplateVersion, string Prompt, string Label);

/// <summary>Verdicts already paid for, in memory and optionally in a JSON file (written atomically after each new batch).</summary>
public sealed class VerdictCache
{
    sealed record Entry(string Model, string Template, string Prompt, string Label, string Verdict);
    sealed record FileShape(int Version, List<Entry> Entries);

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    readonly Dictionary<CacheKey, Verdict> _verdicts = new();
    readonly string? _path;
    bool _dirty;

    public int Count => _verdicts.Count;

    public VerdictCache(string? path)
    {
        _path = path;
        if (path is null || !File.Exists(path)) return;
        FileShape? file;
        try
        {
            file = JsonSerializer.Deserialize<FileShape>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"verdict cache is not valid JSON ({e.Message}); delete it to start afresh");
        }
        if (file is null || file.Version != 1) throw new InputException(path, "verdict cache has no entries or an unknown version (expected 1)");
        for (int i = 0; i < file.Entries.Count; i++)
        {
            var e = file.Entries[i];
            Verdict verdict;
            try { verdict = VerdictValues.Parse(e.Verdict); }
            catch (InputException) { throw new InputException($"{path}: entries[{i}].verdict", $"\"{e.Verdict}\" is not certain, may or unlikely"); }
            _verdicts[new CacheKey(e.Model, e.Template, e.Prompt, e.Label)] = verdict;
        }
    }

    public bool TryGet(CacheKey key, out Verdict verdict) => _verdicts.TryGetValue(key, out verdict);

    public void Set(CacheKey key, Verdict verdict)
    {
        _verdicts[key] = verdict;
        _dirty = true;
    }

    public void Save()
    {
        if (_path is null || !_dirty) return;
        var entries = _verdicts
            .OrderBy(kv => kv.Key.Prompt, StringComparer.Ordinal).ThenBy(kv => kv.Key.Label, StringComparer.Ordinal)
            .ThenBy(kv => kv.Key.ModelSha256, StringComparer.Ordinal).ThenBy(kv => kv.Key.TemplateVersion, StringComparer.Ordinal)
            .Select(kv => new Entry(kv.Key.ModelSha256, kv.Key.TemplateVersion, kv.Key.Prompt, kv.Key.Label, kv.Value.Word()))
            .ToList();
        AtomicFile.WriteAllText(_path, JsonSerializer.Serialize(new FileShape(1, entries), Json));
        _dirty = false;
    }
}
