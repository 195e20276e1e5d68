using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using Microsoft.ML.OnnxRuntime;

namespace FineRewards.Rewards.Onnx;

/// <param name="Folder">An OWL-ViT/OWLv2 export in the Hugging Face ONNX layout: onnx/model.onnx (or model.onnx at the top), preprocessor_config.json.</param>
/// <param name="Threshold">Keep a box for a query when sigmoid(logit) is above this (OWL-ViT's post-processing default 0.1).</param>
/// <param name="NmsThresh">Box IoU above which the lower-scored of two boxes of the same query is dropped.</param>
/// <param name="QueryTemplate">The text each noun is queried as, {0} being the noun (OWL-ViT's paper and examples use this form).</param>
public sealed record OnnxOwlDetectorOptions(string Folder, double Threshold = 0.1, double NmsThresh = 0.3, string QueryTemplate = "a photo of a {0}", OnnxRuntimeOptions? Runtime = null)
{
    /// <param name="where">Prefixed to the setting's name in errors (a pack.json path).</param>
    public void Validate(string where = "")
    {
        if (Threshold is < 0 or >= 1) throw new InputException(where + "threshold", $"must be in [0, 1), got {Threshold}");
        if (NmsThresh is <= 0 or > 1) throw new InputException(where + "nms_thresh", $"must be in (0, 1], got {NmsThresh}");
        if (!QueryTemplate.Contains("{0}", StringComparison.Ordinal)) throw new InputException(where + "query_template", $"must contain {{0}} where the noun goes, got \"{QueryTemplate}\"");
    }
}

/// <summary>One detection: the query (a prompt noun), sigmoid score and box in the original image's pixels.</summary>
public sealed record Detection(string Query, double Score, Box Box);

/// <summary>
/// Open-vocabulary detection with OWL-ViT or OWLv2 through ONNX Runtime (one graph taking the image and the text
/// queries, as Optimum exports <c>OwlViTForObjectDetection</c>): every patch predicts a box and a logit per query.
/// The segment reward queries it with the prompt's nouns and hands the boxes to SAM as box prompts.
/// </summary>
public sealed class OnnxOwlDetector : IDisposable
{
    readonly OnnxGraph _graph;
    readonly ClipTokenize _tokenize;
    readonly OnnxOwlDetectorOptions _options;
    readonly int _contextLength;
    // OWLv2 pads the image to a square (bottom and right) before resizing; its boxes are fractions of that square.
    readonly bool _padToSquare;

    public ClipImageProcessor Processor { get; }
    public OnnxGraph Graph => _graph;
    public string Name { get; }
    public OnnxOwlDetectorOptions Options => _options;

    public OnnxOwlDetector(OnnxOwlDetectorOptions options, ClipTokenize tokenize)
    {
        options.Validate();
        if (!Directory.Exists(options.Folder)) throw new InputException(options.Folder, "OWL-ViT folder does not exist");
        _options = options;
        _tokenize = tokenize;
        string config = Path.Combine(options.Folder, "preprocessor_config.json");
        // Without a config, OWL-ViT B/32's: stretched to 768 x 768, no crop, CLIP's mean and std.
        Processor = File.Exists(config) ? Square(ClipImageProcessor.Load(config), config) : new ClipImageProcessor(ShortestEdge: 0, CropWidth: 768, CropHeight: 768);
        _padToSquare = ReadProcessorType(config) == "Owlv2ImageProcessor";
        _graph = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "model"), "OWL-ViT detector",
            [
                new("input_ids", [-1, -1]),                                            // int64 [B*Q,16]
                new("pixel_values", [-1, 3, Processor.CropHeight, Processor.CropWidth]), // [B,3,768,768] (OWL-ViT B/32)
                new("attention_mask", [-1, -1]),                                       // int64 [B*Q,16]
            ],
            [new("logits", [-1, -1, -1]), new("pred_boxes", [-1, -1, 4])], options.Runtime);   // [B,P,Q], [B,P,4]
        _contextLength = (int)(_graph.FixedDimension("input_ids", 1) ?? 16);
        Name = "owlvit:" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Folder)));
    }

    /// <summary>
    /// OWL-ViT's processor reads a plain number <c>size</c> (google/owlvit-*: 768) as a square, not as CLIP's shortest
    /// edge: the image is stretched to it and the centre crop of the same size changes nothing.
    /// </summary>
    static ClipImageProcessor Square(ClipImageProcessor p, string path)
    {
        if (p.ShortestEdge <= 0) return p;
        if (p.CropWidth != p.ShortestEdge || p.CropHeight != p.ShortestEdge)
            throw new InputException(path, $"size {p.ShortestEdge} with crop_size {p.CropWidth}x{p.CropHeight}: a detector's crop must equal its size (boxes are fractions of the whole image)");
        return p with { ShortestEdge = 0 };
    }

    static string? ReadProcessorType(string path)
    {
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));   // ClipImageProcessor.Load has already reported invalid JSON
        return doc.RootElement.TryGetProperty("image_processor_type", out var t) ? t.GetString() : null;
    }

    /// <summary>Boxes for each query on one image, best first; an empty query list detects nothing.</summary>
    public IReadOnlyList<Detection> Detect(RgbImage image, IReadOnlyList<string> queries, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (queries.Count == 0) return [];
        int q = queries.Count, l = _contextLength;
        var ids = new long[q * l];    // [Q,L]
        for (int i = 0; i < q; i++)
        {
            string text = string.Format(System.Globalization.CultureInfo.InvariantCulture, _options.QueryTemplate, queries[i]);
            var row = _tokenize(text, l);
            if (row.Length != l) throw new InvalidOperationException($"tokenizer gave {row.Length} ids, the detector takes {l}");
            for (int j = 0; j < l; j++) ids[i * l + j] = row[j];
        }
        var mask = OnnxClip.AttentionMask(ids, q, l);   // [Q,L]
        var framed = _padToSquare ? PadToSquare(image) : image;
        var pixels = new float[Processor.Length];   // [1,3,H,W]
        Processor.Preprocess(framed, pixels);

        var inputs = new Dictionary<string, OrtValue>
        {
            ["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids, [q, l]),
            ["pixel_values"] = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, Processor.CropHeight, Processor.CropWidth]),
            ["attention_mask"] = OrtValue.CreateTensorValueFromMemory(mask, [q, l]),
        };
        try
        {
            using var outputs = _graph.Run(inputs, ["logits", "pred_boxes"]);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;   // [1,P,Q]
            if (shape[2] != q) throw new InvalidOperationException($"{_graph.Path}: logits have {shape[2]} queries, {q} were given");
            return Decode(outputs[0].GetTensorDataAsSpan<float>(), outputs[1].GetTensorDataAsSpan<float>(), (int)shape[1], queries,
                framed.Width, framed.Height, image.Width, image.Height, _options.Threshold, _options.NmsThresh);
        }
        finally
        {
            foreach (var v in inputs.Values) v.Dispose();
        }
    }

    /// <summary>
    /// logits [P,Q] and normalised (cx,cy,w,h) boxes [P,4] to detections: sigmoid, threshold, then NMS within each
    /// query. Boxes are fractions of a <paramref name="frameWidth"/> x <paramref name="frameHeight"/> frame (the
    /// padded square for OWLv2), clipped to the image.
    /// </summary>
    public static IReadOnlyList<Detection> Decode(ReadOnlySpan<float> logits, ReadOnlySpan<float> boxes, int patches, IReadOnlyList<string> queries,
        int frameWidth, int frameHeight, int width, int height, double threshold, double nmsThresh)
    {
        int q = queries.Count;
        var result = new List<Detection>();
        for (int k = 0; k < q; k++)
        {
            var found = new List<Detection>();
            for (int p = 0; p < patches; p++)
            {
                double score = 1 / (1 + Math.Exp(-logits[p * q + k]));
                if (score <= threshold) continue;
                var box = PixelBox(boxes.Slice(p * 4, 4), frameWidth, frameHeight, width, height);
                if (box.Width > 0 && box.Height > 0) found.Add(new Detection(queries[k], score, box));
            }
            foreach (var d in found.OrderByDescending(d => d.Score))
                if (result.Where(r => r.Query == d.Query).All(r => SamEverything.BoxIou(r.Box, d.Box) <= nmsThresh))
                    result.Add(d);
        }
        return result.OrderByDescending(d => d.Score).ToList();
    }

    /// <summary>A normalised (cx, cy, w, h) box as whole pixels of the image (x0, y0 floored, x1, y1 ceiled, clipped).</summary>
    public static Box PixelBox(ReadOnlySpan<float> cxcywh, int frameWidth, int frameHeight, int width, int height)
    {
        double cx = cxcywh[0] * frameWidth, cy = cxcywh[1] * frameHeight, w = cxcywh[2] * frameWidth, h = cxcywh[3] * frameHeight;
        // The graph's boxes are float32: 0.3f * 32 + 6.4 is 16.0000005, which must not widen the box by a pixel.
        const double slack = 1e-3;
        int x0 = Math.Clamp((int)Math.Floor(cx - w / 2 + slack), 0, width), y0 = Math.Clamp((int)Math.Floor(cy - h / 2 + slack), 0, height);
        int x1 = Math.Clamp((int)Math.Ceiling(cx + w / 2 - slack), 0, width), y1 = Math.Clamp((int)Math.Ceiling(cy + h / 2 - slack), 0, height);
        return new Box(x0, y0, x1 - x0, y1 - y0);
    }

    /// <summary>OWLv2's pad_to_square: the image at the top left of a square of grey 0.5 (128 here).</summary>
    static RgbImage PadToSquare(RgbImage image)
    {
        int side = Math.Max(image.Width, image.Height);
        if (image.Width == image.Height) return image;
        var pixels = new byte[side * side * 3];
        Array.Fill(pixels, (byte)128);
        for (int y = 0; y < image.Height; y++)
            Array.Copy(image.Pixels, y * image.Width * 3, pixels, y * side * 3, image.Width * 3);
        return new RgbImage(side, side, pixels);
    }

    public void Dispose() => _graph.Dispose();
}
