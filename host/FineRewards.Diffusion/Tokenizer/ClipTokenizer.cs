using System.Text.Json;
using FineRewards.Contracts;
using System.Text.RegularExpressions;
using FineRewards.Core;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tokenizer;

/// <summary>
/// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer, HF CLIPTokenizer) on top of
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>: the library does the byte mapping
/// (bytes_to_unicode), the <c>&lt;/w&gt;</c> end-of-word suffix, the merges and the special-token
/// literals; <see cref="ClipTextNormalizer"/> supplies CLIP's text cleanup, which the library has
/// no normalizer for (ftfy only in part: see <see cref="ClipTextCleaner"/>).
/// </summary>
public sealed class ClipTokenizer
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";

    /// <summary>CLIP's pre-tokenizer regex. Digits are split one at a time; whitespace matches nothing and is dropped.</summary>
    public const string Pattern =
        @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

    // HF and openai both keep only the first 49152-256-2 merges of the file (after its "#version" line).
    const int MergeCount = 49152 - 256 - 2;

    readonly BpeTokenizer _bpe;

    public int BosId { get; }
    public int EosId { get; }
    /// <summary>Padding id: 49407 (EOS) for SD 1.x tokenizers, 0 ("!") for SD 2.x.</summary>
    public int PadId { get; }
    public int ModelMaxLength { get; }
    public IReadOnlyDictionary<string, int> Vocabulary { get; }

    ClipTokenizer(BpeTokenizer bpe, IReadOnlyDictionary<string, int> vocab, int padId, int modelMaxLength)
    {
        _bpe = bpe;
        Vocabulary = vocab;
        BosId = vocab[StartOfText];
        EosId = vocab[EndOfText];
        PadId = padId;
        ModelMaxLength = modelMaxLength;
    }

    /// <summary>Builds the tokenizer from HF-format vocab.json and merges.txt.</summary>
    /// <param name="padToken">The padding token's text (default <c>&lt;|endoftext|&gt;</c>, as SD 1.x).</param>
    public static ClipTokenizer FromFiles(string vocabPath, string mergesPath, string? padToken = null, int modelMaxLength = 77)
    {
        var vocab = ReadVocab(vocabPath);
        var merges = ReadMerges(mergesPath);
        foreach (var special in new[] { StartOfText, EndOfText })
            if (!vocab.ContainsKey(special)) throw new InputException(vocabPath, $"vocabulary has no {special} token");
        padToken ??= EndOfText;
        if (!vocab.TryGetValue(padToken, out int padId))
            throw new InputException("pad_token", $"\"{padToken}\" is not in {vocabPath}");

        var specials = new Dictionary<string, int> { [StartOfText] = vocab[StartOfText], [EndOfText] = vocab[EndOfText] };
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = specials,
            Normalizer = new ClipTextNormalizer(),
            // IgnoreCase as in openai's regex.IGNORECASE; the text is already lower-cased, so it only
            // matters for characters whose lower case still folds (e.g. the long s 'ſ' after an apostrophe).
            PreTokenizer = new RegexPreTokenizer(
                new Regex(Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled), specials),
            EndOfWordSuffix = "</w>",
            ByteLevel = true,
        };
        return new ClipTokenizer(BpeTokenizer.Create(options), vocab, padId, modelMaxLength);
    }

    /// <summary>
    /// Loads a diffusers/HF <c>tokenizer/</c> folder: vocab.json, merges.txt and the pad token and
    /// model_max_length from tokenizer_config.json (else special_tokens_map.json, else EOS and 77).
    /// </summary>
    public static ClipTokenizer FromPretrained(string folder)
    {
        if (!Directory.Exists(folder)) throw new InputException(folder, "tokenizer folder does not exist");
        string? padToken = null;
        int maxLength = 77;
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            using var doc = ParseJson(path);
            var root = doc.RootElement;
            if (padToken is null && root.TryGetProperty("pad_token", out var pad)) padToken = TokenText(pad, path);
            if (name == "tokenizer_config.json" && root.TryGetProperty("model_max_length", out var ml)
                && ml.ValueKind == JsonValueKind.Number && ml.TryGetInt32(out int m) && m > 2)
                maxLength = m;
        }
        return FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"), padToken, maxLength);
    }

    /// <summary>Raw BPE ids, no BOS/EOS, no padding (openai <c>SimpleTokenizer.encode</c>).</summary>
    public IReadOnlyList<int> Encode(string text) => _bpe.EncodeToIds(text);

    /// <summary>
    /// The model input: <c>[BOS] + ids[:maxLength-2] + [EOS]</c>, then <paramref name="padId"/> up to
    /// <paramref name="maxLength"/> (default: this tokenizer's pad id and model_max_length).
    /// </summary>
    public int[] EncodeForModel(string text, int? maxLength = null, int? padId = null)
    {
        int length = maxLength ?? ModelMaxLength;
        if (length < 2) throw new InputException("maxLength", $"must be at least 2 (BOS and EOS), got {length}");
        var ids = Encode(text);
        var result = new int[length];
        Array.Fill(result, padId ?? PadId);
        result[0] = BosId;
        int n = Math.Min(ids.Count, length - 2);
        for (int i = 0; i < n; i++) result[1 + i] = ids[i];
        result[1 + n] = EosId;
        return result;
    }

    /// <summary>A batch of prompts as the int64 [B, maxLength] input_ids tensor of the text encoder.</summary>
    public Tensor EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null, int? padId = null)
    {
        int length = maxLength ?? ModelMaxLength;
        var flat = new long[texts.Count * length];
        for (int b = 0; b < texts.Count; b++)
        {
            var row = EncodeForModel(texts[b], length, padId);
            for (int i = 0; i < length; i++) flat[b * length + i] = row[i];
        }
        return tensor(flat, new long[] { texts.Count, length }, ScalarType.Int64);
    }

    /// <summary>
    /// Text of ids as openai's decode gives it: every <c>&lt;/w&gt;</c> becomes a space, invalid UTF-8
    /// becomes U+FFFD. Done here because the library's decoder drops the suffix without a space.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        _idToToken ??= Vocabulary.ToDictionary(kv => kv.Value, kv => kv.Key);
        _unicodeToByte ??= ByteLevelAlphabet().Select((ch, b) => (ch, b)).ToDictionary(x => x.ch, x => (byte)x.b);
        var text = string.Concat(ids.Select(id => _idToToken.TryGetValue(id, out var t) ? t : ""));
        var bytes = new List<byte>(text.Length);
        foreach (char c in text)
            if (_unicodeToByte.TryGetValue(c, out byte b)) bytes.Add(b);
            else bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(c.ToString()));   // '<', '/', 'w', '>' are themselves
        return System.Text.Encoding.UTF8.GetString(bytes.ToArray()).Replace("</w>", " ");
    }

    Dictionary<int, string>? _idToToken;
    Dictionary<char, byte>? _unicodeToByte;

    /// <summary>GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 map to U+0100 and up.</summary>
    static char[] ByteLevelAlphabet()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    static Dictionary<string, int> ReadVocab(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "vocab.json not found");
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new InputException(path, "expected a JSON object {token: id}");
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"expected a JSON object {{token: id}} ({e.Message})");
        }
    }

    static List<string> ReadMerges(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "merges.txt not found");
        var lines = File.ReadAllText(path).Trim().Split('\n');
        var merges = new List<string>(MergeCount);
        // HF: read().strip().split("\n")[1 : 49152-256-2+1], i.e. always skip the first line.
        for (int i = 1; i < lines.Length && merges.Count < MergeCount; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Split(' ').Length != 2)
                throw new InputException(path, $"line {i + 1}: expected \"left right\", found \"{line}\"");
            merges.Add(line);
        }
        return merges;
    }

    static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not valid JSON ({e.Message})");
        }
    }

    // HF writes special tokens either as a string or as an AddedToken object {"content": ...}.
    static string? TokenText(JsonElement e, string path) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Object when e.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
        JsonValueKind.Null => null,
        _ => throw new InputException(path, "pad_token must be a string or an object with \"content\""),
    };
}

/// <summary>
/// CLIP's text cleanup: <see cref="ClipTextCleaner.BasicClean"/> (the rule-based part of ftfy and HTML
/// unescaping), whitespace runs -> one space, trimmed, then Python lower-casing. The library's
/// normalizers cannot express these (<see cref="LowerCaseNormalizer"/> is .NET's simple case mapping,
/// which gets "ΟΔΟΣ" and "İ" wrong; there is no Python-whitespace or ftfy equivalent).
/// </summary>
public sealed class ClipTextNormalizer : Normalizer
{
    public override string Normalize(string original) =>
        PythonText.Lower(PythonText.CollapseWhitespace(ClipTextCleaner.BasicClean(original)));

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
