using System.Text;
using System.Text.Json;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;

namespace FineRewards.Diffusion.Tokenizer;

/// <summary>
/// Trains CLIP-format tokenizer files (vocab.json + merges.txt) for a small closed vocabulary, such
/// as the Shapes world's prompts, so a small text encoder can use the same CLIP tokenizer class as
/// Stable Diffusion with a vocabulary of hundreds instead of 49,408 tokens.
/// </summary>
/// <remarks>
/// Layout as CLIP's: ids 0..255 are the 256 byte characters, 256..511 the same with the end-of-word
/// marker, then one token per merge in merge order, then &lt;|startoftext|&gt; and &lt;|endoftext|&gt;.
/// Every byte stays encodable, so text outside the corpus still tokenizes (into pieces). Merges are
/// learned by the usual BPE rule (most frequent adjacent pair, ties broken by ordinal order, so the
/// files are reproducible) until every corpus word is one token; encoding applies merges by rank,
/// which replays the training order and so yields those whole-word tokens.
/// Microsoft.ML.Tokenizers reads BPE files but does not train them, hence this class.
/// </remarks>
public static class ClipVocabularyBuilder
{
    const string EndOfWord = "</w>";

    /// <summary>
    /// GPT-2/CLIP's reversible map from bytes to printable characters, and the base vocabulary order
    /// (the printable bytes first, then the remapped ones, as CLIP's vocab.json has them).
    /// </summary>
    public static (IReadOnlyDictionary<byte, char> Map, IReadOnlyList<char> VocabularyOrder) ByteCharacters()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1))
            .Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToList();
        var map = new Dictionary<byte, char>();
        int extra = 0;
        for (int b = 0; b < 256; b++) map[(byte)b] = printable.Contains(b) ? (char)b : (char)(256 + extra++);
        var order = printable.Concat(Enumerable.Range(0, 256).Except(printable)).Select(b => map[(byte)b]).ToList();
        return (map, order);
    }

    /// <summary>Learns merges from lower-case words (with frequencies) and returns the vocabulary and the merges.</summary>
    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges) Train(IReadOnlyDictionary<string, int> wordCounts)
    {
        var (toChar, byteChars) = ByteCharacters();
        var words = wordCounts
            .Where(w => w.Key.Length > 0)
            .OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w =>
            {
                var chars = Encoding.UTF8.GetBytes(w.Key).Select(b => toChar[b].ToString()).ToList();
                chars[^1] += EndOfWord;
                return (Symbols: chars, Count: w.Value);
            }).ToList();

        var merges = new List<(string, string)>();
        while (true)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            foreach (var (symbols, _) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] += symbols[i + 1];
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (char c in byteChars) vocab[c.ToString()] = vocab.Count;
        foreach (char c in byteChars) vocab[c + EndOfWord] = vocab.Count;
        foreach (var (left, right) in merges) vocab.TryAdd(left + right, vocab.Count);
        vocab[ClipTokenizer.StartOfText] = vocab.Count;
        vocab[ClipTokenizer.EndOfText] = vocab.Count;
        return (vocab, merges);
    }

    /// <summary>Writes vocab.json and merges.txt (HF layout, "#version: 0.2" header) into a folder.</summary>
    public static void WriteFiles(string folder, Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(vocab.OrderBy(v => v.Value).ToDictionary(v => v.Key, v => v.Value)));
        var text = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in merges) text.Append(left).Append(' ').Append(right).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(folder, "merges.txt"), text.ToString());
    }
}
