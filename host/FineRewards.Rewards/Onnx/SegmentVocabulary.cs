using System.Text.RegularExpressions;
using FineRewards.Contracts;
using FineRewards.Core;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// The labels CLIP chooses among for a segment: the prompt's nouns plus a tag list (COCO's 80 categories by
/// default, or one label per line from a file). There is no part-of-speech tagger here, so "nouns" are the
/// prompt's words minus function words, numbers, colours, sizes and spatial words: good enough for the short
/// prompts of text-to-image, and a word that is not a noun only costs one unlikely candidate label.
/// </summary>
public sealed partial class SegmentVocabulary
{
    public static readonly IReadOnlyList<string> Coco80 =
    [
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
        "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ];

    static readonly HashSet<string> NotNouns = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "of", "to", "in", "on", "at", "by", "with", "and", "or", "but", "for", "from", "into", "onto", "over", "under",
        "above", "below", "behind", "beside", "between", "near", "next", "left", "right", "top", "bottom", "front", "back", "side",
        "is", "are", "was", "were", "be", "its", "their", "his", "her", "this", "that", "these", "those", "some", "many", "several",
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "single", "pair", "couple",
        "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey", "gray", "golden", "silver",
        "big", "small", "large", "little", "tiny", "huge", "tall", "short", "long", "old", "young", "new", "beautiful", "cute",
        "photo", "picture", "image", "painting", "drawing", "illustration", "render", "style", "detailed", "highly", "very",
    };

    [GeneratedRegex(@"[a-z]+")]
    private static partial Regex Word();

    public IReadOnlyList<string> Tags { get; }

    public SegmentVocabulary(IReadOnlyList<string>? tags = null) => Tags = tags ?? Coco80;

    /// <summary>One label per line; blank lines and lines starting with # are skipped.</summary>
    public static SegmentVocabulary FromFile(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "tag list not found (expected one label per line)");
        var tags = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Distinct().ToList();
        if (tags.Count == 0) throw new InputException(path, "tag list is empty (expected one label per line)");
        return new SegmentVocabulary(tags);
    }

    /// <summary>The prompt's content words, singular where a plain English plural is obvious.</summary>
    public static IReadOnlyList<string> PromptNouns(string prompt) =>
        Word().Matches(prompt.ToLowerInvariant()).Select(m => m.Value)
            .Where(w => w.Length > 2 && !NotNouns.Contains(w))
            .Select(Singular).Distinct().ToList();

    static string Singular(string w) =>
        w.EndsWith("ies", StringComparison.Ordinal) && w.Length > 4 ? w[..^3] + "y"
        : w.EndsWith('s') && !w.EndsWith("ss", StringComparison.Ordinal) && !w.EndsWith("us", StringComparison.Ordinal) && !w.EndsWith("is", StringComparison.Ordinal) ? w[..^1]
        : w;

    /// <summary>Prompt nouns first, then the tags not already among them.</summary>
    public IReadOnlyList<string> For(string prompt) => PromptNouns(prompt).Concat(Tags).Distinct(StringComparer.Ordinal).ToList();
}
