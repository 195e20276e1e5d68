namespace FineRewards.Contracts;

/// <summary>
/// An 8-bit RGB image, row-major, 3 bytes per pixel. The one image type the domain passes between
/// generator, rewards and host, so no layer depends on a drawing or tensor library.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Width * Height * 3 bytes: R, G, B for each pixel, rows top to bottom.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        if (pixels.Length != width * height * 3)
            throw new ArgumentException($"expected {width * height * 3} bytes for a {width}x{height} RGB image, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get { int o = (y * Width + x) * 3; return (Pixels[o], Pixels[o + 1], Pixels[o + 2]); }
    }
}
