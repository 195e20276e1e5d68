using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.ShapesPack.Captioner;

/// <summary>
/// The captioner's word vocabulary: the Shapes grammar's words plus &lt;pad&gt; (0), &lt;bos&gt; (1), &lt;eos&gt; (2).
/// The list is stored in the captioner's config.json, so a shipped model keeps its own ids.
/// </summary>
public sealed class CaptionVocabulary
{
    public const string Pad = "<pad>", Bos = "<bos>", Eos = "<eos>";
    public const int PadId = 0, BosId = 1, EosId = 2;

    public IReadOnlyList<string> Words { get; }
    readonly Dictionary<string, int> _ids;

    public CaptionVocabulary(IReadOnlyList<string> words)
    {
        if (words.Count < 3 || words[0] != Pad || words[1] != Bos || words[2] != Eos)
            throw new InputException("vocabulary", $"must start with {Pad}, {Bos}, {Eos}");
        Words = words.ToArray();
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Words.Count; i++)
            if (!_ids.TryAdd(Words[i], i)) throw new InputException("vocabulary", $"\"{Words[i]}\" is listed twice");
    }

    /// <summary>Every word the grammar can write, in a fixed order.</summary>
    public static CaptionVocabulary Grammar() => new(
        new[] { Pad, Bos, Eos, "a", "and", "to", "the", "left", "right", "of", "above", "below" }
            .Concat(PromptWords.NumberWords)
            .Concat(Palette.Colors.Select(c => c.Word()))
            .Concat(Palette.Shapes.Select(s => s.Word()))
            .Concat(Palette.Shapes.Select(s => s.Plural()))
            .ToList());

    public int Count => Words.Count;

    /// <summary>[bos, w1..wn] as input and [w1..wn, eos] as target, both padded to <paramref name="length"/>.</summary>
    public (long[] Input, long[] Target) EncodeTeacherForcing(string caption, int length)
    {
        var ids = caption.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w =>
            _ids.TryGetValue(w, out int id) ? id : throw new InputException("caption", $"\"{w}\" is not a word of the captioner's vocabulary")).ToList();
        if (ids.Count + 1 > length) throw new InputException("caption", $"\"{caption}\" has {ids.Count} words; the captioner takes at most {length - 1}");
        var input = new long[length];
        var target = new long[length];
        input[0] = BosId;
        for (int i = 0; i < ids.Count; i++) { input[i + 1] = ids[i]; target[i] = ids[i]; }
        target[ids.Count] = EosId;
        return (input, target);
    }

    /// <summary>Words up to the first &lt;eos&gt;, special tokens dropped.</summary>
    public string Decode(IEnumerable<long> ids) =>
        string.Join(' ', ids.TakeWhile(id => id != EosId).Where(id => id > EosId && id < Words.Count).Select(id => Words[(int)id]));
}
