using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// CLIP's image preprocessing (Hugging Face <c>CLIPImageProcessor</c>, openai's <c>_transform</c>): shortest side to
/// <see cref="ShortestEdge"/> with Pillow's bicubic filter (the long side truncated, as both do), centre crop,
/// rescale to [0, 1], normalise with the mean and std. With <see cref="ShortestEdge"/> 0 (a <c>size</c> of height and
/// width, as BLIP's and ViT's processors) the image is resized straight to the crop size instead. Read from <c>preprocessor_config.json</c> when a CLIP
/// folder has one; the defaults are CLIP's own.
/// </summary>
public sealed record ClipImageProcessor(
    int ShortestEdge = 224,
    int CropWidth = 224,
    int CropHeight = 224,
    double RescaleFactor = 1.0 / 255,
    float[]? Mean = null,
    float[]? Std = null,
    ResampleFilter Filter = ResampleFilter.Bicubic)
{
    public static readonly float[] ClipMean = [0.48145466f, 0.4578275f, 0.40821073f];
    public static readonly float[] ClipStd = [0.26862954f, 0.26130258f, 0.27577711f];

    float[] M => Mean ?? ClipMean;
    float[] S => Std ?? ClipStd;

    /// <summary>Reads a Hugging Face preprocessor_config.json; missing keys keep CLIP's values.</summary>
    public static ClipImageProcessor Load(string path)
    {
        if (!File.Exists(path)) return new ClipImageProcessor();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var p = new ClipImageProcessor();
            if (root.TryGetProperty("size", out var size))
                p = size.ValueKind == JsonValueKind.Number ? p with { ShortestEdge = size.GetInt32() }
                    // {height, width} (BLIP, ViT): resize straight to that size, no crop.
                    : size.TryGetProperty("height", out var sh) ? p with { ShortestEdge = 0, CropHeight = sh.GetInt32(), CropWidth = size.GetProperty("width").GetInt32() }
                    : p with { ShortestEdge = size.GetProperty("shortest_edge").GetInt32() };
            if (p.ShortestEdge > 0 && root.TryGetProperty("crop_size", out var crop))
                p = crop.ValueKind == JsonValueKind.Number
                    ? p with { CropWidth = crop.GetInt32(), CropHeight = crop.GetInt32() }
                    : p with { CropWidth = crop.GetProperty("width").GetInt32(), CropHeight = crop.GetProperty("height").GetInt32() };
            if (root.TryGetProperty("rescale_factor", out var rescale)) p = p with { RescaleFactor = rescale.GetDouble() };
            if (root.TryGetProperty("image_mean", out var mean)) p = p with { Mean = mean.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            if (root.TryGetProperty("image_std", out var std)) p = p with { Std = std.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            if (root.TryGetProperty("resample", out var resample))
                p = p with { Filter = resample.GetInt32() switch
                {
                    2 => ResampleFilter.Bilinear,
                    3 => ResampleFilter.Bicubic,
                    int other => throw new InputException(path, $"resample {other} is not supported; expected 2 (bilinear) or 3 (bicubic)"),
                } };
            if (p.M.Length != 3 || p.S.Length != 3) throw new InputException(path, "image_mean and image_std need three values (R, G, B)");
            return p;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InputException(path, $"not a CLIP preprocessor config: expected size.shortest_edge, crop_size, image_mean, image_std ({e.Message})");
        }
    }

    public int Length => 3 * CropHeight * CropWidth;

    /// <summary>Writes one image as [3, CropHeight, CropWidth] floats into <paramref name="output"/>.</summary>
    public void Preprocess(RgbImage image, Span<float> output)
    {
        if (ShortestEdge <= 0)
        {
            Normalise(PilResampler.Resize(image, CropWidth, CropHeight, Filter), 0, 0, output);
            return;
        }
        bool wide = image.Width > image.Height;
        int shortSide = Math.Min(image.Width, image.Height), longSide = Math.Max(image.Width, image.Height);
        int newLong = (int)((long)ShortestEdge * longSide / shortSide);
        var resized = PilResampler.Resize(image, wide ? newLong : ShortestEdge, wide ? ShortestEdge : newLong, Filter);
        // Hugging Face's center_crop: floor of the margin; an image smaller than the crop is padded with zeros.
        int top = (resized.Height - CropHeight) / 2, left = (resized.Width - CropWidth) / 2;
        if (resized.Height < CropHeight) top = -((CropHeight - resized.Height + 1) / 2);
        if (resized.Width < CropWidth) left = -((CropWidth - resized.Width + 1) / 2);
        Normalise(resized, top, left, output);
    }

    /// <summary>The CropHeight x CropWidth window at (left, top) of <paramref name="resized"/>, rescaled and normalised; outside it zeros.</summary>
    void Normalise(RgbImage resized, int top, int left, Span<float> output)
    {
        int plane = CropHeight * CropWidth;
        var mean = M;
        var std = S;
        for (int y = 0; y < CropHeight; y++)
        {
            int sy = y + top;
            for (int x = 0; x < CropWidth; x++)
            {
                int sx = x + left;
                bool inside = sy >= 0 && sy < resized.Height && sx >= 0 && sx < resized.Width;
                int at = inside ? (sy * resized.Width + sx) * 3 : 0;
                for (int c = 0; c < 3; c++)
                {
                    float value = inside ? (float)(resized.Pixels[at + c] * RescaleFactor) : 0f;
                    output[c * plane + y * CropWidth + x] = (value - mean[c]) / std[c];
                }
            }
        }
    }
}
