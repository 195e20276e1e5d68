using System.Text;

namespace FineRewards.Rewards.Tests.Gguf;

/// <summary>
/// Writes a tiny LLaMA-architecture GGUF v3 file with random F32 weights, so the LLM judge's plumbing (load,
/// tokenize, grammar-constrained decoding, parsing, caching) can run without a real model. Its answers are
/// arbitrary; only their format is fixed by the grammar.
/// </summary>
/// <remarks>
/// Layout (all little-endian): "GGUF", u32 version, u64 tensor count, u64 kv count; the key-value pairs
/// (u64-length strings, u32 value type, value); the tensor infos (name, u32 dims, u64 extents innermost first,
/// u32 ggml type, u64 offset into the data); zero padding to the alignment; the tensor data, each tensor aligned.
/// </remarks>
public static class TinyLlamaGguf
{
    public sealed record Shape(int Embedding = 32, int Heads = 4, int KvHeads = 2, int FeedForward = 64, int Blocks = 2, int ContextLength = 2048, string? ChatTemplate = null);

    // gguf value types
    const uint U32 = 4, F32 = 6, String = 8, Array = 9, I32 = 5;
    const uint Alignment = 32;
    const uint GgmlF32 = 0;

    // llama.cpp token types
    const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    /// <summary>The vocabulary: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 byte tokens, printable ASCII, "▁" and a few words.</summary>
    public static List<(string Text, float Score, int Type)> Vocabulary()
    {
        var tokens = new List<(string, float, int)> { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) };
        for (int b = 0; b < 256; b++) tokens.Add(($"<0x{b:X2}>", 0, Byte));
        // SentencePiece marks spaces with U+2581; whole words let merges happen, longer pieces score higher.
        tokens.Add(("\u2581", -1, Normal));
        for (char c = '!'; c <= '~'; c++) tokens.Add((c.ToString(), -1, Normal));
        foreach (string word in new[] { "certain", "may", "unlikely", "\u2581certain", "\u2581may", "\u2581unlikely", "\u2581red", "\u2581circle" })
            tokens.Add((word, word.Length, Normal));
        return tokens;
    }

    public static string Write(string path, int seed = 1, Shape? shape = null)
    {
        var s = shape ?? new Shape();
        var vocab = Vocabulary();
        int headDim = s.Embedding / s.Heads;
        int kvDim = headDim * s.KvHeads;
        var random = new Random(seed);

        var tensors = new List<(string Name, long[] Dims)>
        {
            ("token_embd.weight", [s.Embedding, vocab.Count]),
            ("output_norm.weight", [s.Embedding]),
            ("output.weight", [s.Embedding, vocab.Count]),
        };
        for (int b = 0; b < s.Blocks; b++)
        {
            tensors.Add(($"blk.{b}.attn_norm.weight", [s.Embedding]));
            tensors.Add(($"blk.{b}.attn_q.weight", [s.Embedding, s.Embedding]));
            tensors.Add(($"blk.{b}.attn_k.weight", [s.Embedding, kvDim]));
            tensors.Add(($"blk.{b}.attn_v.weight", [s.Embedding, kvDim]));
            tensors.Add(($"blk.{b}.attn_output.weight", [s.Embedding, s.Embedding]));
            tensors.Add(($"blk.{b}.ffn_norm.weight", [s.Embedding]));
            tensors.Add(($"blk.{b}.ffn_gate.weight", [s.Embedding, s.FeedForward]));
            tensors.Add(($"blk.{b}.ffn_up.weight", [s.Embedding, s.FeedForward]));
            tensors.Add(($"blk.{b}.ffn_down.weight", [s.FeedForward, s.Embedding]));
        }

        var metadata = new List<(string Key, uint Type, Action<BinaryWriter> Value)>
        {
            ("general.architecture", String, w => Str(w, "llama")),
            ("general.name", String, w => Str(w, "tiny-random-llama")),
            ("general.alignment", U32, w => w.Write(Alignment)),
            ("llama.context_length", U32, w => w.Write((uint)s.ContextLength)),
            ("llama.embedding_length", U32, w => w.Write((uint)s.Embedding)),
            ("llama.block_count", U32, w => w.Write((uint)s.Blocks)),
            ("llama.feed_forward_length", U32, w => w.Write((uint)s.FeedForward)),
            ("llama.attention.head_count", U32, w => w.Write((uint)s.Heads)),
            ("llama.attention.head_count_kv", U32, w => w.Write((uint)s.KvHeads)),
            ("llama.rope.dimension_count", U32, w => w.Write((uint)headDim)),
            ("llama.attention.layer_norm_rms_epsilon", F32, w => w.Write(1e-5f)),
            ("tokenizer.ggml.model", String, w => Str(w, "llama")),
            ("tokenizer.ggml.tokens", Array, w => { w.Write(String); w.Write((ulong)vocab.Count); foreach (var t in vocab) Str(w, t.Text); }),
            ("tokenizer.ggml.scores", Array, w => { w.Write(F32); w.Write((ulong)vocab.Count); foreach (var t in vocab) w.Write(t.Score); }),
            ("tokenizer.ggml.token_type", Array, w => { w.Write(I32); w.Write((ulong)vocab.Count); foreach (var t in vocab) w.Write(t.Type); }),
            ("tokenizer.ggml.bos_token_id", U32, w => w.Write(1u)),
            ("tokenizer.ggml.eos_token_id", U32, w => w.Write(2u)),
        };
        if (s.ChatTemplate is not null) metadata.Add(("tokenizer.chat_template", String, w => Str(w, s.ChatTemplate)));

        using var stream = File.Create(path);
        using var w = new BinaryWriter(stream, Encoding.UTF8);
        w.Write("GGUF"u8);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, type, value) in metadata)
        {
            Str(w, key);
            w.Write(type);
            value(w);
        }

        ulong offset = 0;
        foreach (var (name, dims) in tensors)
        {
            Str(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims) w.Write((ulong)d);
            w.Write(GgmlF32);
            w.Write(offset);
            offset = Align(offset + (ulong)(Elements(dims) * 4));
        }
        Pad(w);

        foreach (var (name, dims) in tensors)
        {
            long count = Elements(dims);
            bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            for (long i = 0; i < count; i++)
                w.Write(norm ? 1f : (float)((random.NextDouble() * 2 - 1) * 0.5));
            Pad(w);
        }
        return path;
    }

    static long Elements(long[] dims) => dims.Aggregate(1L, (a, b) => a * b);

    static ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter w)
    {
        w.Flush();
        long position = w.BaseStream.Position;
        long padded = (long)Align((ulong)position);
        for (long i = position; i < padded; i++) w.Write((byte)0);
    }

    static void Str(BinaryWriter w, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
