using System.Text.Json;
using FineRewards.Core;
using FineRewards.Core.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace FineRewards.Rewards.Onnx;

/// <param name="Folder">An encoder-decoder export in the Optimum layout: onnx/encoder_model.onnx, onnx/decoder_model.onnx (or at the top), config.json, preprocessor_config.json, vocab.txt.</param>
/// <param name="MaxTokens">Generated tokens per caption at most (the start token not counted).</param>
/// <param name="BatchSize">Images per encoder and decoder run.</param>
public sealed record OnnxCaptionerOptions(string Folder, int MaxTokens = 30, int BatchSize = 8, OnnxRuntimeOptions? Runtime = null);

/// <summary>
/// An image captioner from an encoder-decoder ONNX export (BLIP's vision model + text decoder, or any Optimum
/// VisionEncoderDecoder export with a WordPiece vocabulary): the image encoded once, then greedy decoding, all images
/// of a batch together, each stopping at its end token or at <see cref="OnnxCaptionerOptions.MaxTokens"/>. The
/// decoder is the one without past key values, run on the whole prefix each step (a decoder_with_past graph is not
/// used yet); captions are short, so the prefix stays small.
/// </summary>
public sealed class OnnxCaptioner : ICaptioner, IDisposable
{
    readonly OnnxGraph _encoder;
    readonly OnnxGraph _decoder;
    readonly BertTokenizer _tokenizer;
    readonly OnnxCaptionerOptions _options;
    readonly int _start, _end, _pad;

    public ClipImageProcessor Processor { get; }
    public string Name { get; }
    public OnnxGraph Encoder => _encoder;
    public OnnxGraph Decoder => _decoder;

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
        try
        {
            _decoder = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "decoder_model"), "captioner text decoder",
                [
                    new("input_ids", [-1, -1]),                         // int64 [B,T]
                    new("encoder_hidden_states", [-1, -1, -1]),         // [B,S,D]
                    new("attention_mask", [-1, -1], Optional: true),    // int64 [B,T]
                    new("encoder_attention_mask", [-1, -1], Optional: true),   // int64 [B,S]
                ],
                [new("logits", [-1, -1, -1])], options.Runtime);        // [B,T,V]
        }
        catch
        {
            _encoder.Dispose();
            throw;
        }
        Name = "captioner:" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Folder)));
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
        for (int step = 0; step < _options.MaxTokens && done.Contains(false); step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int t = sequences[0].Count;
            var ids = new long[b * t];   // [B,T]; finished rows keep growing with padding so the batch stays rectangular
            for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) ids[i * t + j] = sequences[i][j];
            var next = NextTokens(ids, b, t, hidden, hiddenShape, sequences);
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

    int[] NextTokens(long[] ids, int b, int t, float[] hidden, long[] hiddenShape, List<List<int>> sequences)
    {
        var inputs = new Dictionary<string, OrtValue>
        {
            ["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids, [b, t]),
            ["encoder_hidden_states"] = OrtValue.CreateTensorValueFromMemory(hidden, hiddenShape),
        };
        try
        {
            if (_decoder.Inputs.Contains("attention_mask"))
            {
                // Padding after a caption's end is never attended to by the tokens that matter (they come before it).
                var mask = new long[b * t];
                for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) mask[i * t + j] = sequences[i][j] == _pad && j > 0 ? 0 : 1;
                inputs["attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [b, t]);
            }
            if (_decoder.Inputs.Contains("encoder_attention_mask"))
            {
                var mask = new long[b * hiddenShape[1]];
                Array.Fill(mask, 1L);
                inputs["encoder_attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [b, hiddenShape[1]]);
            }
            using var outputs = _decoder.Run(inputs, ["logits"]);
            var logits = outputs[0].GetTensorDataAsSpan<float>();   // [B,T,V]
            int v = (int)outputs[0].GetTensorTypeAndShape().Shape[2];
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
        finally
        {
            foreach (var value in inputs.Values) value.Dispose();
        }
    }

    IEnumerable<string> CaptionBatch(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken) =>
        Generate(images, cancellationToken).Select(ids => _tokenizer.Decode(ids.Where(id => id != _end && id != _pad && id != _start), skipSpecialTokens: true) ?? "");

    public void Dispose()
    {
        _encoder.Dispose();
        _decoder.Dispose();
    }
}
