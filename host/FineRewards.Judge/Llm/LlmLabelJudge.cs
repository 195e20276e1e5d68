using System.Security.Cryptography;
using System.Text;
using FineRewards.Core;
using FineRewards.Contracts;
using LLama;
using LLama.Common;
using LLama.Native;

namespace FineRewards.Judge.Llm;

/// <summary>
/// The segment reward's label judge on a local GGUF language model (Vicuna in the paper) through LLamaSharp.
/// One query lists the prompt and the labels; a GBNF grammar and greedy decoding force exactly one verdict per
/// label, in order. Verdicts are cached per (prompt, label, model SHA-256, template version), so a best-of-K job
/// only asks about labels it has not seen. Not reentrant: calls are serialised on one llama context.
/// </summary>
public sealed partial class LlmLabelJudge : ILabelJudge, IDisposable
{
    /// <summary>Bump whenever the question text or answer format changes: cached verdicts of another version are not reused.</summary>
    public const string TemplateVersion = "labels-v1";

    readonly LlmJudgeOptions _options;
    readonly LLamaWeights _weights;
    readonly LLamaContext _context;
    readonly bool _chatTemplate;
    readonly string _template;
    readonly VerdictCache _cache;
    readonly object _gate = new();
    long _queries, _promptTokens, _reusedTokens, _generatedTokens, _cacheHits, _cacheMisses;
    // The tokens whose keys and values the context holds now (seq 0, positions 0..n-1): the last query's prompt and
    // answer. A new query keeps their common prefix (the instructions) instead of decoding it again.
    readonly List<LLamaToken> _held = [];

    public string Name { get; }
    public string Version { get; }
    /// <summary>SHA-256 of the GGUF file, hex.</summary>
    public string ModelSha256 { get; }
    /// <summary>Whether questions are wrapped in the model's own chat template (the GGUF has one and the options allow it).</summary>
    public bool UsesChatTemplate => _chatTemplate;
    /// <summary>The raw answers of the queries run by the last <see cref="Judge"/> call (empty when all came from the cache).</summary>
    public IReadOnlyList<string> LastAnswers { get; private set; } = [];

    public LlmJudgeCounters Counters
    {
        get { lock (_gate) return new LlmJudgeCounters(_queries, _promptTokens, _reusedTokens, _generatedTokens, _cacheHits, _cacheMisses); }
    }

    public LlmLabelJudge(LlmJudgeOptions options)
    {
        _options = options;
        Validate(options);
        string path = Path.GetFullPath(options.ModelPath);
        CheckGgufHeader(path);
        ModelSha256 = HashFile(path);
        Name = $"llm:{Path.GetFileNameWithoutExtension(path)}";

        LlamaNativeLog.Install();
        if (options.GpuLayers > 0 && !NativeApi.llama_supports_gpu_offload())
            throw new InputException("GpuLayers", $"{options.GpuLayers} layers asked for GPU offload, but the loaded llama.cpp backend is CPU-only; use 0, or build with -p:FineRewardsGpu=true");
        var modelParams = new ModelParams(path)
        {
            ContextSize = options.ContextSize,
            GpuLayerCount = options.GpuLayers,
            Threads = options.Threads ?? Environment.ProcessorCount,
            BatchThreads = options.Threads ?? Environment.ProcessorCount,
            BatchSize = options.BatchSize,
            UBatchSize = options.BatchSize,
        };
        long mark = LlamaNativeLog.Mark();
        try
        {
            _weights = LLamaWeights.LoadFromFile(modelParams);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InputException(options.ModelPath, $"llama.cpp could not load this GGUF model ({e.Message}).{NativeLogTail(mark)}");
        }
        try
        {
            _context = _weights.CreateContext(modelParams);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _weights.Dispose();
            throw new InputException(options.ModelPath, $"llama.cpp loaded the model but could not create a {options.ContextSize}-token context ({e.Message}).{NativeLogTail(mark)}");
        }
        _chatTemplate = options.UseChatTemplate && _weights.Metadata.ContainsKey("tokenizer.chat_template");
        // The same question asked with or without the chat template can get another answer.
        _template = $"{TemplateVersion}{(_chatTemplate ? "+chat" : "+plain")}";
        Version = $"{ModelSha256[..16]}+{_template}";
        _cache = new VerdictCache(options.CachePath);
    }

    public IReadOnlyList<Verdict> Judge(string prompt, IReadOnlyList<string> labels, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var answers = new List<string>();
            var missing = labels.Distinct().Where(l => !_cache.TryGet(Key(prompt, l), out _)).ToList();
            var asked = missing.ToHashSet();
            _cacheMisses += labels.Count(asked.Contains);
            _cacheHits += labels.Count - labels.Count(asked.Contains);
            LastAnswers = answers;
            try
            {
                foreach (var chunk in Chunks(prompt, missing))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (verdicts, answer) = Ask(prompt, chunk.Labels, chunk.Tokens, cancellationToken);
                    answers.Add(answer);
                    for (int i = 0; i < chunk.Labels.Count; i++) _cache.Set(Key(prompt, chunk.Labels[i]), verdicts[i]);
                }
            }
            finally
            {
                // Keep what earlier queries paid for even when a later one fails or is cancelled.
                _cache.Save();
            }

            return labels.Select(l => _cache.TryGet(Key(prompt, l), out var v) ? v : throw new InvalidOperationException($"no verdict for {l}")).ToList();
        }
    }

    CacheKey Key(string prompt, string label) => new(ModelSha256, _template, prompt, label);

    /// <summary>The question for one query; labels are numbered as the grammar numbers the answer lines.</summary>
    public static string Question(string prompt, IReadOnlyList<string> labels)
    {
        // Fixed instructions first: every query then starts with the same tokens, which the context keeps.
        var text = new StringBuilder();
        text.Append("A text-to-image model drew a picture for a prompt, and objects were found in the picture. ");
        text.Append("For each object, answer \"certain\" if the scene the prompt describes certainly contains it, ");
        text.Append("\"may\" if it may appear in that scene, or \"unlikely\" if it is unlikely to appear in it. ");
        text.Append("Answer with one line per object, in the same order, as \"<number>: <verdict>\".\n");
        text.Append("Prompt: \"").Append(OneLine(prompt)).Append("\"\nObjects:\n");
        for (int i = 0; i < labels.Count; i++) text.Append(i + 1).Append(". ").Append(OneLine(labels[i])).Append('\n');
        return text.ToString();
    }

    static string OneLine(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>The exact text a query decodes: the question, wrapped in the model's chat template when it has one.</summary>
    public string PromptText(string prompt, IReadOnlyList<string> labels) => Wrap(Question(prompt, labels));

    /// <summary>A question as the model reads it: inside its chat template when it has one.</summary>
    string Wrap(string question)
    {
        if (!_chatTemplate) return question + "Answer:\n";
        var template = new LLamaTemplate(_weights) { AddAssistant = true };
        template.Add("user", question);
        return Encoding.UTF8.GetString(template.Apply());
    }

    sealed record Chunk(IReadOnlyList<string> Labels, LLamaToken[] Tokens);

    /// <summary>Splits the labels into queries that fit both MaxLabelsPerQuery and the context.</summary>
    IEnumerable<Chunk> Chunks(string prompt, List<string> labels)
    {
        var pending = new Stack<List<string>>();
        foreach (var part in labels.Chunk(_options.MaxLabelsPerQuery).Reverse()) pending.Push(part.ToList());

        while (pending.Count > 0)
        {
            var part = pending.Pop();
            var tokens = _context.Tokenize(PromptText(prompt, part), addBos: true, special: true);
            int needed = tokens.Length + VerdictGrammar.MaxAnswerBytes(part.Count) + 1;
            if (needed <= _options.ContextSize)
            {
                yield return new Chunk(part, tokens);
                continue;
            }
            if (part.Count == 1)
                throw new InputException("labels", $"label \"{part[0]}\" with prompt \"{prompt}\" needs {needed} tokens (question {tokens.Length} + answer), more than ContextSize {_options.ContextSize}; raise ContextSize or shorten the prompt");
            int half = part.Count / 2;
            pending.Push(part.GetRange(half, part.Count - half));
            pending.Push(part.GetRange(0, half));
        }
    }

    (IReadOnlyList<Verdict> Verdicts, string Answer) Ask(string prompt, IReadOnlyList<string> labels, LLamaToken[] promptTokens, CancellationToken cancellationToken)
    {
        string text = Complete(promptTokens, VerdictGrammar.Gbnf(labels.Count), VerdictGrammar.MaxAnswerBytes(labels.Count),
            answer => VerdictGrammar.CompleteLines(answer) >= labels.Count, cancellationToken);
        try
        {
            return (VerdictGrammar.Parse(text, labels.Count), text);
        }
        catch (Exception e) when (e is FormatException or InputException)
        {
            throw new InvalidOperationException($"{Name} answered outside the verdict grammar for prompt \"{prompt}\": {e.Message}", e);
        }
    }

    /// <summary>
    /// Greedy decoding of <paramref name="promptTokens"/> under a GBNF grammar until <paramref name="done"/> says the answer
    /// is whole, the model ends it, or <paramref name="maxBytes"/> tokens were sampled (every token is at least a byte).
    /// Callers hold the gate.
    /// </summary>
    string Complete(LLamaToken[] promptTokens, string gbnf, int maxBytes, Func<string, bool> done, CancellationToken cancellationToken)
    {
        var ctx = _context.NativeHandle;
        _queries++;
        int position = KeepCommonPrefix(ctx, promptTokens);
        _reusedTokens += position;
        _promptTokens += promptTokens.Length - position;

        using var sampler = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        sampler.AddGrammar(_weights.NativeHandle, gbnf, "root");
        // Greedy = temperature 0: the same question always gets the same answer, which the cache relies on.
        sampler.AddGreedySampler();

        // Prompt: the rest of [T] tokens in n_batch-sized pieces, logits only for the last one.
        var batch = new LLamaBatch();
        while (position < promptTokens.Length)
        {
            batch.Clear();
            int end = Math.Min(promptTokens.Length, position + (int)_options.BatchSize);
            for (int i = position; i < end; i++) batch.Add(promptTokens[i], i, LLamaSeqId.Zero, i == promptTokens.Length - 1);
            Decode(ctx, batch);
            _held.AddRange(promptTokens.AsSpan(position, end - position));
            position = end;
        }

        var decoder = new StreamingTokenDecoder(_context);
        var answer = new StringBuilder();
        for (int step = 0; step < maxBytes + 1; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var token = sampler.Sample(ctx, batch.TokenCount - 1);
            if (token.IsEndOfGeneration(_weights.Vocab)) break;
            _generatedTokens++;
            decoder.Add(token);
            answer.Append(decoder.Read());
            if (done(answer.ToString())) break;
            batch.Clear();
            batch.Add(token, position++, LLamaSeqId.Zero, true);
            Decode(ctx, batch);
            _held.Add(token);
        }
        return answer.ToString();
    }

    /// <returns>How many leading prompt tokens the context already holds (always leaving one to decode for fresh logits).</returns>
    int KeepCommonPrefix(SafeLLamaContextHandle ctx, LLamaToken[] promptTokens)
    {
        int common = 0;
        int limit = Math.Min(_held.Count, promptTokens.Length - 1);
        while (common < limit && _held[common] == promptTokens[common]) common++;
        if (common > 0) ctx.MemorySequenceRemove(LLamaSeqId.Zero, common, -1);
        if (common == 0 || ctx.MemorySequenceMaxPosition(LLamaSeqId.Zero).Value != common - 1)
        {
            // Some memories (recurrent models) cannot drop a tail (the call then leaves it): start from nothing.
            ctx.MemoryClear(true);
            common = 0;
        }
        _held.RemoveRange(common, _held.Count - common);
        return common;
    }

    void Decode(SafeLLamaContextHandle ctx, LLamaBatch batch)
    {
        var result = ctx.Decode(batch);
        if (result != DecodeResult.Ok)
        {
            // What the context holds is unknown after a failed decode.
            ctx.MemoryClear(true);
            _held.Clear();
            throw new InvalidOperationException($"llama_decode failed ({result}) in {Name}");
        }
    }

    static void Validate(LlmJudgeOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.ModelPath)) throw new InputException("ModelPath", "no GGUF model given");
        if (o.ContextSize < 64) throw new InputException("ContextSize", $"{o.ContextSize} tokens is too small for a question; use at least 64 (2048 is typical)");
        if (o.MaxLabelsPerQuery < 1) throw new InputException("MaxLabelsPerQuery", $"must be positive, got {o.MaxLabelsPerQuery}");
        if (o.Threads is < 1) throw new InputException("Threads", $"must be positive, got {o.Threads}");
        if (o.GpuLayers < 0) throw new InputException("GpuLayers", $"must be 0 or more, got {o.GpuLayers}");
        if (o.BatchSize < 1) throw new InputException("BatchSize", $"must be positive, got {o.BatchSize}");
    }

    /// <summary>Refuses what is plainly not a GGUF file before the native loader sees it, naming the file.</summary>
    static void CheckGgufHeader(string path)
    {
        if (!File.Exists(path)) throw new InputException(path, "GGUF model file not found");
        Span<byte> head = stackalloc byte[8];
        using var stream = File.OpenRead(path);
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read < 8 || !head[..4].SequenceEqual("GGUF"u8))
            throw new InputException(path, $"not a GGUF model: it starts with {Convert.ToHexString(head[..read])} instead of the magic \"GGUF\" (a partial download or another format?)");
        uint version = BitConverter.ToUInt32(head[4..]);
        if (version is < 2 or > 3) throw new InputException(path, $"GGUF version {version} is not supported (expected 2 or 3)");
    }

    static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static string NativeLogTail(long mark)
    {
        var lines = LlamaNativeLog.Since(mark);
        var relevant = lines.Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)).ToList();
        var shown = (relevant.Count > 0 ? relevant : lines).TakeLast(8).ToList();
        return shown.Count == 0 ? "" : " llama.cpp said: " + string.Join(" | ", shown);
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
