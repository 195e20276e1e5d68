using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Rewards.Embedders;
using Microsoft.ML.OnnxRuntime;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// CLIP's text tokens for the text graph: <c>[BOS] ids [EOS]</c> padded to the context length. Rewards does not
/// reference the TorchSharp engine, so the host passes the project's CLIP tokenizer
/// (<c>FineRewards.Diffusion.Tokenizer.ClipTokenizer.EncodeForModel</c>) in as this delegate.
/// </summary>
public delegate int[] ClipTokenize(string text, int contextLength);

/// <summary>Where a CLIP export's files are and how to run them.</summary>
/// <param name="Folder">A folder in the Hugging Face ONNX layout: onnx/vision_model.onnx, onnx/text_model.onnx (or both at the top), preprocessor_config.json, config.json.</param>
/// <param name="BatchSize">Images or texts per run when the graph's batch axis is free.</param>
public sealed record OnnxClipOptions(string Folder, int BatchSize = 16, OnnxRuntimeOptions? Runtime = null)
{
    /// <summary>A graph file of the folder: onnx/NAME.onnx where present, else NAME.onnx at the top.</summary>
    public static string GraphPath(string folder, string name)
    {
        string nested = Path.Combine(folder, "onnx", name + ".onnx");
        return File.Exists(nested) ? nested : File.Exists(Path.Combine(folder, name + ".onnx")) ? Path.Combine(folder, name + ".onnx") : nested;
    }
}

/// <summary>
/// CLIP through ONNX Runtime with separate vision and text graphs (Hugging Face / Optimum exports, or
/// torch.onnx.export of openai CLIP): unit-length image and text embeddings (CLIPScore, the aesthetic head) and
/// zero-shot label probabilities (segment labels). Both graphs are checked at load.
/// </summary>
public sealed class OnnxClip : IImageTextEmbedder, ITextEmbedder, IDisposable
{
    readonly OnnxGraph _vision;
    readonly OnnxGraph _text;
    readonly ClipTokenize _tokenize;
    readonly int _batch;
    readonly int _contextLength;

    public ClipImageProcessor Processor { get; }
    public string Name { get; }
    public int Dimension { get; }
    /// <summary>exp(logit_scale): 100 for every released CLIP.</summary>
    public double LogitScale { get; }
    public OnnxGraph Vision => _vision;
    public OnnxGraph Text => _text;

    public OnnxClip(OnnxClipOptions options, ClipTokenize tokenize)
    {
        if (!Directory.Exists(options.Folder)) throw new InputException(options.Folder, "CLIP folder does not exist");
        _tokenize = tokenize;
        _batch = Math.Max(1, options.BatchSize);
        Processor = ClipImageProcessor.Load(Path.Combine(options.Folder, "preprocessor_config.json"));
        LogitScale = ReadLogitScale(Path.Combine(options.Folder, "config.json"));
        _vision = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "vision_model"), "CLIP vision",
            [new("pixel_values", [-1, 3, Processor.CropHeight, Processor.CropWidth])],   // [B,3,224,224]
            [new("image_embeds", [-1, -1])], options.Runtime);                            // [B,D] projected, not normalised
        try
        {
            _text = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "text_model"), "CLIP text",
                [new("input_ids", [-1, -1]), new("attention_mask", [-1, -1], Optional: true)],   // int64 [B,77]
                [new("text_embeds", [-1, -1])], options.Runtime);                                 // [B,D]
        }
        catch
        {
            _vision.Dispose();
            throw;
        }
        _contextLength = (int)(_text.FixedDimension("input_ids", 1) ?? 77);
        // The embedding size from the graph where it is fixed, else from one run on the empty text.
        long d = _text.OutputShapes["text_embeds"][^1];
        Dimension = d > 0 ? (int)d : EmbedTexts([""])[0].Length;
        Name = "clip:" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Folder)));
    }

    static double ReadLogitScale(string path)
    {
        if (!File.Exists(path)) return 100;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.TryGetProperty("logit_scale_init_value", out var v) ? Math.Exp(v.GetDouble()) : 100;
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not valid JSON ({e.Message})");
        }
    }

    /// <summary>Unit-length image embeddings; an image the graph fails on gets an empty vector, the others keep theirs.</summary>
    public IReadOnlyList<float[]> EmbedImages(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        Batched(images.Count, _vision.FixedDimension("pixel_values", 0), (start, count) =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            int length = Processor.Length;
            var pixels = new float[count * length];   // [count,3,H,W]
            // The K images are resized on all cores: done one by one, resampling is the part of the run
            // outside ONNX Runtime that grows with K, and the graph already uses every core while it runs.
            Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken },
                i => Processor.Preprocess(images[start + i], pixels.AsSpan(i * length, length)));
            return RunVision(pixels, count);
        });

    /// <summary>Already preprocessed pixels [count,3,H,W] to unit-length embeddings (fixture parity tests feed the reference input here).</summary>
    public float[][] RunVision(float[] pixels, int count)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [count, 3, Processor.CropHeight, Processor.CropWidth]);
        using var outputs = _vision.Run(new Dictionary<string, OrtValue> { ["pixel_values"] = input }, ["image_embeds"]);
        return Rows(outputs[0], count);
    }

    public IReadOnlyList<float[]> EmbedTexts(IReadOnlyList<string> texts, CancellationToken cancellationToken = default) =>
        Batched(texts.Count, _text.FixedDimension("input_ids", 0), (start, count) =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = new long[count * _contextLength];   // [count,77]
            for (int i = 0; i < count; i++)
            {
                var row = _tokenize(texts[start + i], _contextLength);
                if (row.Length != _contextLength) throw new InvalidOperationException($"tokenizer gave {row.Length} ids, the text graph takes {_contextLength}");
                for (int j = 0; j < row.Length; j++) ids[i * _contextLength + j] = row[j];
            }
            return RunText(ids, count);
        }, allowFailures: false);

    /// <summary>Token ids [count,77] to unit-length embeddings. The attention mask, where the graph takes one, covers BOS..EOS.</summary>
    public float[][] RunText(long[] ids, int count)
    {
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            inputs["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids, [count, _contextLength]);
            if (_text.Inputs.Contains("attention_mask"))
                inputs["attention_mask"] = OrtValue.CreateTensorValueFromMemory(AttentionMask(ids, count, _contextLength), [count, _contextLength]);
            using var outputs = _text.Run(inputs, ["text_embeds"]);
            return Rows(outputs[0], count);
        }
        finally
        {
            foreach (var v in inputs.Values) v.Dispose();
        }
    }

    /// <summary>The attention mask [count,length] of CLIP token rows: 1 over BOS..EOS, 0 over the padding.</summary>
    public static long[] AttentionMask(long[] ids, int count, int length)
    {
        // EOS has the highest id of CLIP's vocabulary, so the first maximum is the end of the text.
        var mask = new long[ids.Length];
        for (int b = 0; b < count; b++)
        {
            var row = ids.AsSpan(b * length, length);
            int end = row.IndexOf(row.ToArray().Max());
            mask.AsSpan(b * length, end + 1).Fill(1);
        }
        return mask;
    }

    IReadOnlyList<float[]> ITextEmbedder.Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken) => EmbedTexts(texts, cancellationToken);

    /// <summary>Zero-shot probabilities: softmax over labels of logit_scale · cos(image, label text), one row per image.</summary>
    public static double[] ZeroShot(float[] image, IReadOnlyList<float[]> labels, double logitScale)
    {
        var logits = labels.Select(l => logitScale * Embeddings.Cosine(image, l)).ToArray();
        double max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }

    /// <summary>Runs in chunks the graph accepts; with <paramref name="allowFailures"/> a failed chunk is retried one item at a time and a failed item gets an empty vector.</summary>
    List<float[]> Batched(int total, long? fixedBatch, Func<int, int, float[][]> run, bool allowFailures = true)
    {
        int chunk = fixedBatch is long f ? (int)f : _batch;
        var result = new List<float[]>(total);
        for (int start = 0; start < total; start += chunk)
        {
            int count = Math.Min(chunk, total - start);
            if (fixedBatch is long fb && count != fb) throw new InvalidOperationException($"graph takes batches of exactly {fb}");
            try
            {
                result.AddRange(run(start, count));
            }
            catch (Exception) when (allowFailures && count > 1)
            {
                for (int i = 0; i < count; i++)
                {
                    try { result.AddRange(run(start + i, 1)); }
                    catch (Exception e) when (e is not OperationCanceledException) { result.Add([]); }
                }
            }
            catch (Exception e) when (allowFailures && e is not OperationCanceledException)
            {
                result.Add([]);
            }
        }
        return result;
    }

    /// <summary>[count,D] output rows, each scaled to unit length.</summary>
    static float[][] Rows(OrtValue output, int count)
    {
        var data = output.GetTensorDataAsSpan<float>();
        int d = data.Length / count;
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var row = data.Slice(i * d, d).ToArray();
            double norm = Math.Sqrt(row.Sum(v => (double)v * v));
            if (norm > 0) for (int j = 0; j < d; j++) row[j] = (float)(row[j] / norm);
            rows[i] = row;
        }
        return rows;
    }

    public void Dispose()
    {
        _vision.Dispose();
        _text.Dispose();
    }
}
