using FineRewards.Contracts;

namespace FineRewards.Plugin.Editor;

/// <summary>Brings an accepted candidate to the document's size before it becomes a layer.</summary>
public static class LayerFit
{
    /// <summary>
    /// Scales the image to fit the document, nearest-neighbour so its real pixels stay visible, and
    /// centres it on white where the aspect ratios differ. Returns the image and, in words, what was done.
    /// </summary>
    public static (RgbImage Image, string How) ToDocument(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0 || (width == image.Width && height == image.Height))
            return (image, $"{image.Width}×{image.Height}, the canvas's size");
        double scale = Math.Min((double)width / image.Width, (double)height / image.Height);
        int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
        int x0 = (width - w) / 2, y0 = (height - h) / 2;
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)255);
        for (int y = 0; y < h; y++)
        {
            int sy = Math.Min(image.Height - 1, (int)(y / scale));
            for (int x = 0; x < w; x++)
            {
                int sx = Math.Min(image.Width - 1, (int)(x / scale));
                Array.Copy(image.Pixels, (sy * image.Width + sx) * 3, pixels, ((y0 + y) * width + x0 + x) * 3, 3);
            }
        }
        string how = $"scaled {image.Width}×{image.Height} → {w}×{h} to the {width}×{height} canvas (nearest neighbour: the model's real pixels)";
        if (w != width || h != height) how += ", centred on white";
        return (new RgbImage(width, height, pixels), how);
    }
}
