using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace FineRewards.Rewards.Onnx;

/// <param name="Folder">An encoder-decoder export in the Optimum layout: onnx/encoder_model.onnx and a decoder (or both at the top), config.json, preprocessor_config.json, vocab.txt.
/// The decoder is onnx/decoder_model_merged.onnx where present, else onnx/decoder_model.onnx (with onnx/decoder_with_past_model.onnx where present).</param>
/// <param name="MaxTokens">Generated tokens per caption at most (the start token not counted).</param>
/// <param name="BatchSize">Images per encoder and decoder run.</param>
/// <param name="UseCache">Decode with the past key values where the export has them (one new token per step); false reruns the decoder on the whole prefix each step.</param>
public sealed record OnnxCaptionerOptions(string Folder, int MaxTokens = 30, int BatchSize = 8, OnnxRuntimeOptions? Runtime = null, bool UseCache = true);

/// <summary>
/// An image captioner from an encoder-decoder ONNX export (BLIP's vision model + text decoder, or any Optimum
/// VisionEncoderDecoder export with a WordPiece vocabulary): the image encoded once, then greedy decoding, all images
/// of a batch together, each stopping at its end token or at <see cref="OnnxCaptionerOptions.MaxTokens"/>. With a
/// decoder_with_past or merged export the decoder sees one new token per step and the keys and values of the earlier
/// ones come back from the previous step (Optimum's <c>past_key_values.*</c> inputs fed from <c>present.*</c>
/// outputs); a plain decoder is rerun on the whole prefix each step.
/// </summary>
public sealed class OnnxCaptioner : ICaptioner, IDisposable
{
    const string PastPrefix = "past_key_values.", PresentPrefix = "present.";

    readonly OnnxGraph _encoder;
    readonly OnnxGraph _decoder;        // decoder_model or decoder_model_merged
    readonly OnnxGraph? _withPast;      // decoder_with_past_model, used after the first step
    readonly bool _merged;
    readonly BertTokenizer _tokenizer;
    readonly OnnxCaptionerOptions _options;
    readonly int _start, _end, _pad;

    public ClipImageProcessor Processor { get; }
    public string Name { get; }
    public OnnxGraph Encoder => _encoder;
    public OnnxGraph Decoder => _decoder;
    /// <summary>Every graph a caption runs through (for timing).</summary>
    public IReadOnlyList<OnnxGraph> Graphs => _withPast is null ? [_encoder, _decoder] : [_encoder, _decoder, _withPast];
    /// <summary>Whether decoding feeds the past key values back (a with-past or merged export and <see cref="OnnxCaptionerOptions.UseCache"/>).</summary>
    public bool UsesCache => _options.UseCache && (_merged || _withPast is not null);

    /// <summary>The decoder graph files a folder's captioner runs: the merged decoder where present, else decoder_model (and decoder_with_past_model where present).</summary>
    public static IReadOnlyList<string> DecoderFiles(string folder)
    {
        string merged = OnnxClipOptions.GraphPath(folder, "decoder_model_merged");
        if (File.Exists(merged)) return [merged];
        string withPast = OnnxClipOptions.GraphPath(folder, "decoder_with_past_model");
        string plain = OnnxClipOptions.GraphPath(folder, "decoder_model");
        return File.Exists(withPast) ? [plain, withPast] : [plain];
    }

    public OnnxCaptioner(OnnxCaptionerOptions options)
    {
        _options = options;
        if (options.MaxTokens < 1) throw new InputException("MaxTokens", $"must be at least 1, got {options.MaxTokens}");
        if (!Directory.Exists(options.Folder)) throw new InputException(options.Folder, "captioner folder does not exist");
        string vocab = Path.Combine(options.Folder, "vocab.txt");
        if (!File.Exists(vocab)) throw new InputException(vocab, "captioner vocabulary not found (expected a WordPiece vocab.txt, as BLIP's)");
        try
        {
            _tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });
        }
        catch (ArgumentException e)
        {
            throw new InputException(vocab, $"not a WordPiece vocabulary with BERT's special tokens ({e.Message})");
        }
        (_start, _end, _pad) = ReadTokens(Path.Combine(options.Folder, "config.json"));
        Processor = ClipImageProcessor.Load(Path.Combine(options.Folder, "preprocessor_config.json"));
        _encoder = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "encoder_model"), "captioner image encoder",
            [new("pixel_values", [-1, 3, Processor.CropHeight, Processor.CropWidth])],   // [B,3,384,384] for BLIP
            [new("last_hidden_state", [-1, -1, -1])], options.Runtime);                     // [B,S,D]
        var decoders = DecoderFiles(options.Folder);
        _merged = decoders[0].EndsWith("decoder_model_merged.onnx", StringComparison.Ordinal);
        try
        {
            TensorSpec[] masks = [new("attention_mask", [-1, -1], Optional: true), new("encoder_attention_mask", [-1, -1], Optional: true)];   // int64 [B,T], [B,S]
            if (_merged)
            {
                _decoder = OnnxGraph.Load(decoders[0], "captioner text decoder (merged, with past key values)",
                    [new("input_ids", [-1, -1]), new("encoder_hidden_states", [-1, -1, -1]), .. masks, new("use_cache_branch", [1])],
                    [new("logits", [-1, -1, -1])], options.Runtime, IsPast);
                CheckCache(_decoder, _decoder);
            }
            else
            {
                _decoder = OnnxGraph.Load(decoders[0], "captioner text decoder",
                    [new("input_ids", [-1, -1]), new("encoder_hidden_states", [-1, -1, -1]), .. masks],   // int64 [B,T], [B,S,D]
                    [new("logits", [-1, -1, -1])], options.Runtime);                                      // [B,T,V]
                if (decoders.Count > 1 && options.UseCache)
                {
                    _withPast = OnnxGraph.Load(decoders[1], "captioner text decoder with past key values",
                        [new("input_ids", [-1, -1]), new("encoder_hidden_states", [-1, -1, -1], Optional: true), .. masks],   // input_ids [B,1]
                        [new("logits", [-1, -1, -1])], options.Runtime, IsPast);
                    CheckCache(_withPast, _decoder);
                }
            }
        }
        catch
        {
            _withPast?.Dispose();
            _decoder?.Dispose();
            _encoder.Dispose();
            throw;
        }
        Name = "captioner:" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Folder)));
    }

    static bool IsPast(string input) => input.StartsWith(PastPrefix, StringComparison.Ordinal);
    static string Present(string past) => PresentPrefix + past[PastPrefix.Length..];
    static IEnumerable<string> Pasts(OnnxGraph graph) => graph.Inputs.Where(IsPast).Order(StringComparer.Ordinal);

    /// <summary>A cache-taking graph needs past inputs, and the graph of the first step must give every one of them as a present output.</summary>
    static void CheckCache(OnnxGraph cached, OnnxGraph first)
    {
        var pasts = Pasts(cached).ToList();
        if (pasts.Count == 0) throw new InputException(cached.Path, $"{cached.Role}: no {PastPrefix}* inputs (expected Optimum's past_key_values.N.decoder.key ... with present.N.* outputs)");
        var missing = pasts.Where(p => !first.OutputShapes.ContainsKey(Present(p))).ToList();
        if (missing.Count > 0)
            throw new InputException(first.Path, $"{first.Role}: no present outputs for {string.Join(", ", missing)} (expected {string.Join(", ", missing.Select(Present))}); found outputs {string.Join(", ", first.OutputShapes.Keys)}");
    }

    /// <summary>Start, end and pad ids from config.json (top level or text_config, as BLIP nests them); BLIP's defaults otherwise.</summary>
    static (int Start, int End, int Pad) ReadTokens(string path)
    {
        int start = 30522, end = 102, pad = 0;   // BLIP: [DEC], [SEP], [PAD]
        if (!File.Exists(path)) return (start, end, pad);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var scope in new[] { doc.RootElement.TryGetProperty("text_config", out var t) ? t : default, doc.RootElement })
            {
                if (scope.ValueKind != JsonValueKind.Object) continue;
                if (scope.TryGetProperty("bos_token_id", out var b) && b.ValueKind == JsonValueKind.Number) start = b.GetInt32();
                if (scope.TryGetProperty("decoder_start_token_id", out var d) && d.ValueKind == JsonValueKind.Number) start = d.GetInt32();
                if (scope.TryGetProperty("sep_token_id", out var s) && s.ValueKind == JsonValueKind.Number) end = s.GetInt32();
                if (scope.TryGetProperty("eos_token_id", out var e) && e.ValueKind == JsonValueKind.Number) end = e.GetInt32();
                if (scope.TryGetProperty("pad_token_id", out var p) && p.ValueKind == JsonValueKind.Number) pad = p.GetInt32();
            }
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not valid JSON ({e.Message})");
        }
        return (start, end, pad);
    }

    /// <summary>Captions all images; an image the graphs fail on gets an empty caption (the caption reward flags it), the others keep theirs.</summary>
    public IReadOnlyList<string> Caption(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        var captions = new List<string>(images.Count);
        int batch = Math.Max(1, _options.BatchSize);
        for (int start = 0; start < images.Count; start += batch)
        {
            var chunk = images.Skip(start).Take(batch).ToList();
            try
            {
                captions.AddRange(CaptionBatch(chunk, cancellationToken));
            }
            catch (Exception) when (chunk.Count > 1 && !cancellationToken.IsCancellationRequested)
            {
                foreach (var image in chunk)
                {
                    try { captions.AddRange(CaptionBatch([image], cancellationToken)); }
                    catch (Exception e) when (e is not OperationCanceledException) { captions.Add(""); }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException) { captions.Add(""); }
        }
        return captions;
    }

    /// <summary>Generated token ids per image (start token excluded, end token included where reached).</summary>
    public IReadOnlyList<IReadOnlyList<int>> Generate(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        int b = images.Count, length = Processor.Length;
        var pixels = new float[b * length];   // [B,3,H,W]
        for (int i = 0; i < b; i++) Processor.Preprocess(images[i], pixels.AsSpan(i * length, length));
        using var pixelValues = OrtValue.CreateTensorValueFromMemory(pixels, [b, 3, Processor.CropHeight, Processor.CropWidth]);
        using var encoded = _encoder.Run(new Dictionary<string, OrtValue> { ["pixel_values"] = pixelValues }, ["last_hidden_state"]);
        var hiddenShape = encoded[0].GetTensorTypeAndShape().Shape;   // [B,S,D]
        var hidden = encoded[0].GetTensorDataAsSpan<float>().ToArray();

        var sequences = Enumerable.Range(0, b).Select(_ => new List<int> { _start }).ToList();
        var done = new bool[b];
        using var cache = new KeyValueCache();
        for (int step = 0; step < _options.MaxTokens && done.Contains(false); step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int t = sequences[0].Count;
            var next = UsesCache ? NextTokensCached(step, b, t, hidden, hiddenShape, sequences, cache) : NextTokens(b, t, hidden, hiddenShape, sequences);
            for (int i = 0; i < b; i++)
            {
                sequences[i].Add(done[i] ? _pad : next[i]);
                if (next[i] == _end) done[i] = true;
            }
        }
        return sequences.Select(s =>
        {
            var generated = s.Skip(1).ToList();
            int end = generated.IndexOf(_end);
            return (IReadOnlyList<int>)(end >= 0 ? generated.Take(end + 1).ToList() : generated);
        }).ToList();
    }

    /// <summary>The decoder on the whole prefix [B,T] (finished rows keep growing with padding so the batch stays rectangular).</summary>
    int[] NextTokens(int b, int t, float[] hidden, long[] hiddenShape, List<List<int>> sequences)
    {
        var ids = new long[b * t];   // [B,T]
        for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) ids[i * t + j] = sequences[i][j];
        var inputs = new Dictionary<string, OrtValue> { ["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids, [b, t]) };
        try
        {
            AddEncoderInputs(_decoder, inputs, b, hidden, hiddenShape);
            if (_decoder.Inputs.Contains("attention_mask"))
            {
                // Padding after a caption's end is never attended to by the tokens that matter (they come before it).
                var mask = new long[b * t];
                for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) mask[i * t + j] = sequences[i][j] == _pad && j > 0 ? 0 : 1;
                inputs["attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [b, t]);
            }
            if (_merged)
            {
                inputs["use_cache_branch"] = OrtValue.CreateTensorValueFromMemory(new[] { false }, [1]);
                AddEmptyPasts(inputs, b);
            }
            using var outputs = _decoder.Run(inputs, ["logits"]);
            return Greedy(outputs[0], b);
        }
        finally
        {
            foreach (var value in inputs.Values) value.Dispose();
        }
    }

    /// <summary>
    /// One step with the cache: the first runs the decoder (the merged one on its no-cache branch) on the start token
    /// and keeps its present.* outputs; later steps feed only each row's newest token with those as past_key_values.*.
    /// The cross-attention keys and values come from the first step (a with-past graph does not output them again).
    /// </summary>
    int[] NextTokensCached(int step, int b, int t, float[] hidden, long[] hiddenShape, List<List<int>> sequences, KeyValueCache cache)
    {
        var graph = step == 0 || _merged ? _decoder : _withPast!;
        var ids = new long[b];   // [B,1]
        for (int i = 0; i < b; i++) ids[i] = sequences[i][t - 1];
        var owned = new Dictionary<string, OrtValue> { ["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids, [b, 1]) };
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            AddEncoderInputs(graph, owned, b, hidden, hiddenShape);
            if (graph.Inputs.Contains("attention_mask"))
            {
                var mask = new long[b * t];   // [B,T]: the cached tokens and the new one
                Array.Fill(mask, 1L);
                owned["attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [b, t]);
            }
            if (_merged) owned["use_cache_branch"] = OrtValue.CreateTensorValueFromMemory(new[] { step > 0 }, [1]);
            if (step == 0 && _merged) AddEmptyPasts(owned, b);
            foreach (var (name, value) in owned) inputs[name] = value;
            if (step > 0)
                foreach (var past in Pasts(graph)) inputs[past] = cache.Get(past) ?? throw new InvalidOperationException($"{graph.Path}: no present value for {past} from the previous step");
            var wanted = new List<string> { "logits" };
            wanted.AddRange(graph.OutputShapes.Keys.Where(o => o.StartsWith(PresentPrefix, StringComparison.Ordinal)));
            var outputs = graph.Run(inputs, wanted);
            try
            {
                var next = Greedy(outputs[0], b);
                cache.Take(wanted, outputs);   // the previous step's values go once nothing refers to them
                return next;
            }
            catch
            {
                outputs.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var value in owned.Values) value.Dispose();
        }
    }

    void AddEncoderInputs(OnnxGraph graph, Dictionary<string, OrtValue> inputs, int b, float[] hidden, long[] hiddenShape)
    {
        if (graph.Inputs.Contains("encoder_hidden_states")) inputs["encoder_hidden_states"] = OrtValue.CreateTensorValueFromMemory(hidden, hiddenShape);
        if (graph.Inputs.Contains("encoder_attention_mask"))
        {
            var mask = new long[b * hiddenShape[1]];
            Array.Fill(mask, 1L);
            inputs["encoder_attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [b, hiddenShape[1]]);
        }
    }

    /// <summary>The merged decoder's no-cache branch ignores its past inputs but they must be fed: [B,heads,0,head_dim].</summary>
    void AddEmptyPasts(Dictionary<string, OrtValue> inputs, int b)
    {
        foreach (var past in Pasts(_decoder))
        {
            var shape = _decoder.InputShapes[past].Select((d, axis) => axis == 0 ? b : axis == 2 ? 0 : d > 0 ? d : 1).ToArray();
            inputs[past] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, shape);
        }
    }

    /// <summary>The best token after each row's last position of logits [B,T,V].</summary>
    static int[] Greedy(OrtValue logitsValue, int b)
    {
        var logits = logitsValue.GetTensorDataAsSpan<float>();
        var shape = logitsValue.GetTensorTypeAndShape().Shape;
        int t = (int)shape[1], v = (int)shape[2];
        var next = new int[b];
        for (int i = 0; i < b; i++)
        {
            var row = logits.Slice(((i * t) + t - 1) * v, v);
            int best = 0;
            for (int k = 1; k < v; k++) if (row[k] > row[best]) best = k;
            next[i] = best;
        }
        return next;
    }

    /// <summary>The present.* outputs of the last step by the past_key_values.* name they feed, and the output collections holding them.</summary>
    sealed class KeyValueCache : IDisposable
    {
        readonly Dictionary<string, (OrtValue Value, IDisposableReadOnlyCollection<OrtValue> Owner)> _values = new(StringComparer.Ordinal);
        readonly List<IDisposableReadOnlyCollection<OrtValue>> _owners = [];

        public OrtValue? Get(string past) => _values.TryGetValue(past, out var v) ? v.Value : null;

        public void Take(IReadOnlyList<string> names, IDisposableReadOnlyCollection<OrtValue> outputs)
        {
            _owners.Add(outputs);
            for (int i = 0; i < names.Count; i++)
                if (names[i].StartsWith(PresentPrefix, StringComparison.Ordinal))
                    _values[PastPrefix + names[i][PresentPrefix.Length..]] = (outputs[i], outputs);
            foreach (var stale in _owners.Where(o => _values.Values.All(v => v.Owner != o)).ToList())
            {
                stale.Dispose();
                _owners.Remove(stale);
            }
        }

        public void Dispose()
        {
            foreach (var o in _owners) o.Dispose();
            _owners.Clear();
            _values.Clear();
        }
    }

    IEnumerable<string> CaptionBatch(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken) =>
        Generate(images, cancellationToken).Select(ids => _tokenizer.Decode(ids.Where(id => id != _end && id != _pad && id != _start), skipSpecialTokens: true) ?? "");

    public void Dispose()
    {
        _encoder.Dispose();
        _decoder.Dispose();
        _withPast?.Dispose();
    }
}
