using FineRewards.Core;
using FineRewards.Contracts;
using Microsoft.ML.OnnxRuntime;

namespace FineRewards.Rewards.Onnx;

/// <param name="Folder">A SAM folder: onnx/vision_encoder.onnx and onnx/prompt_decoder.onnx (or both at the top), config.json.</param>
public sealed record OnnxSamOptions(string Folder, OnnxRuntimeOptions? Runtime = null);

/// <summary>A point prompt in the original image's pixels: label 1 foreground, 0 background, 2/3 box corners.</summary>
public readonly record struct SamPoint(float X, float Y, int Label);

/// <summary>One decoded mask: logits at the original size (threshold 0) and the model's own IoU estimate.</summary>
public sealed record SamMask(int Width, int Height, float[] Logits, float PredictedIou);

/// <summary>Reads a decoded mask where ONNX Runtime left it (logits [H,W] at the original size, valid only during the call).</summary>
public delegate T SamMaskReader<out T>(ReadOnlySpan<float> logits, float predictedIou);

/// <summary>
/// Segment Anything through ONNX Runtime: an image encoder graph and the official prompt decoder export
/// (segment-anything's <c>SamOnnxModel</c>, as SAM, SlimSAM and MobileSAM export it). The image embedding is
/// computed once per image and reused for every prompt.
/// </summary>
public sealed class OnnxSam : IDisposable
{
    readonly OnnxGraph _encoder;
    readonly OnnxGraph _decoder;
    readonly float[] _noMask;
    readonly int _maskHeight, _maskWidth;

    public SamImageProcessor Processor { get; }
    public string Name { get; }
    public OnnxGraph Encoder => _encoder;
    public OnnxGraph Decoder => _decoder;

    public OnnxSam(OnnxSamOptions options)
    {
        if (!Directory.Exists(options.Folder)) throw new InputException(options.Folder, "SAM folder does not exist");
        Processor = SamImageProcessor.Load(Path.Combine(options.Folder, "config.json"));
        int s = Processor.ImageSize;
        _encoder = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "vision_encoder"), "SAM image encoder",
            [new("pixel_values", [1, 3, s, s])],            // [1,3,1024,1024]
            [new("image_embeddings", [1, -1, -1, -1])],     // [1,256,64,64] (ViT-B..H)
            options.Runtime);
        try
        {
            _decoder = OnnxGraph.Load(OnnxClipOptions.GraphPath(options.Folder, "prompt_decoder"), "SAM prompt decoder",
                [
                    new("image_embeddings", [1, -1, -1, -1]),
                    new("point_coords", [1, -1, 2]),        // in the 1024 frame
                    new("point_labels", [1, -1]),
                    new("mask_input", [1, 1, -1, -1]),      // [1,1,256,256]
                    new("has_mask_input", [1]),
                    new("orig_im_size", [2]),               // (h, w)
                ],
                [new("masks", [-1, -1, -1, -1]), new("iou_predictions", [-1, -1])], options.Runtime);
        }
        catch
        {
            _encoder.Dispose();
            throw;
        }
        // No previous mask: zeros of the decoder's mask_input size, shared by every prompt (ONNX Runtime only reads inputs).
        var maskShape = _decoder.InputShapes["mask_input"];
        _maskHeight = (int)(maskShape[2] > 0 ? maskShape[2] : 256);
        _maskWidth = (int)(maskShape[3] > 0 ? maskShape[3] : 256);
        _noMask = new float[_maskHeight * _maskWidth];
        Name = "sam:" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Folder)));
    }

    /// <summary>The image embedding [1,C,64,64] of one image.</summary>
    public SamEmbedding Encode(RgbImage image)
    {
        int s = Processor.ImageSize;
        var pixels = new float[3 * s * s];   // [1,3,1024,1024]
        Processor.Preprocess(image, pixels);
        return EncodePreprocessed(pixels, image.Width, image.Height);
    }

    public SamEmbedding EncodePreprocessed(float[] pixels, int width, int height)
    {
        int s = Processor.ImageSize;
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, s, s]);
        using var outputs = _encoder.Run(new Dictionary<string, OrtValue> { ["pixel_values"] = input }, ["image_embeddings"]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        return new SamEmbedding(outputs[0].GetTensorDataAsSpan<float>().ToArray(), shape, width, height);
    }

    /// <summary>
    /// Decodes one prompt. Points are in the original image's pixels; without box corners a padding point (label -1)
    /// is appended, as the official export expects.
    /// </summary>
    public SamMask Decode(SamEmbedding embedding, IReadOnlyList<SamPoint> points) =>
        Decode(embedding, points, (logits, iou) => new SamMask(embedding.Width, embedding.Height, logits.ToArray(), iou));

    /// <summary>Decodes one prompt and hands the mask to <paramref name="read"/> without copying it (everything mode reads 256 masks per image and keeps few).</summary>
    public T Decode<T>(SamEmbedding embedding, IReadOnlyList<SamPoint> points, SamMaskReader<T> read)
    {
        var (rw, rh) = Processor.ResizedSize(embedding.Width, embedding.Height);
        bool box = points.Any(p => p.Label is 2 or 3);
        int n = points.Count + (box ? 0 : 1);
        var coords = new float[n * 2];   // [1,N,2]
        var labels = new float[n];       // [1,N]
        for (int i = 0; i < points.Count; i++)
        {
            coords[i * 2] = points[i].X * rw / embedding.Width;
            coords[i * 2 + 1] = points[i].Y * rh / embedding.Height;
            labels[i] = points[i].Label;
        }
        if (!box) labels[n - 1] = -1;
        return DecodeRaw(embedding, coords, labels, _noMask, 0, read, _maskHeight, _maskWidth);
    }

    /// <summary>The decoder on inputs already in its frame (fixture parity tests feed the reference inputs here).</summary>
    public SamMask DecodeRaw(SamEmbedding embedding, float[] coords, float[] labels, float[] maskInput, float hasMaskInput, int maskHeight = 256, int maskWidth = 256) =>
        DecodeRaw(embedding, coords, labels, maskInput, hasMaskInput, (logits, iou) => new SamMask(embedding.Width, embedding.Height, logits.ToArray(), iou), maskHeight, maskWidth);

    T DecodeRaw<T>(SamEmbedding embedding, float[] coords, float[] labels, float[] maskInput, float hasMaskInput, SamMaskReader<T> read, int maskHeight, int maskWidth)
    {
        int n = labels.Length;
        var inputs = new Dictionary<string, OrtValue>
        {
            ["image_embeddings"] = OrtValue.CreateTensorValueFromMemory(embedding.Values, embedding.Shape),
            ["point_coords"] = OrtValue.CreateTensorValueFromMemory(coords, [1, n, 2]),
            ["point_labels"] = OrtValue.CreateTensorValueFromMemory(labels, [1, n]),
            ["mask_input"] = OrtValue.CreateTensorValueFromMemory(maskInput, [1, 1, maskHeight, maskWidth]),
            ["has_mask_input"] = OrtValue.CreateTensorValueFromMemory(new[] { hasMaskInput }, [1]),
            ["orig_im_size"] = OrtValue.CreateTensorValueFromMemory(new float[] { embedding.Height, embedding.Width }, [2]),
        };
        try
        {
            using var outputs = _decoder.Run(inputs, ["masks", "iou_predictions"]);
            var masks = outputs[0].GetTensorDataAsSpan<float>();
            var shape = outputs[0].GetTensorTypeAndShape().Shape;   // [1,M,h,w]; single-mask exports give M = 1
            int plane = (int)(shape[2] * shape[3]);
            if (shape[2] != embedding.Height || shape[3] != embedding.Width)
                throw new InvalidOperationException($"{_decoder.Path}: masks came back {shape[3]}x{shape[2]} for a {embedding.Width}x{embedding.Height} image");
            var iou = outputs[1].GetTensorDataAsSpan<float>();
            // Several masks (a multimask export): keep the one the model rates best.
            int best = 0;
            for (int m = 1; m < iou.Length; m++) if (iou[m] > iou[best]) best = m;
            return read(masks.Slice(best * plane, plane), iou[best]);
        }
        finally
        {
            foreach (var v in inputs.Values) v.Dispose();
        }
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _decoder.Dispose();
    }
}

/// <summary>A SAM image embedding and the size of the image it came from.</summary>
public sealed record SamEmbedding(float[] Values, long[] Shape, int Width, int Height);
