using FineRewards.Contracts;
using FineRewards.Core.IO;

namespace FineRewards.Core.Tests.IO;

public class ImageResizeTests
{
    static RgbImage Filled(int w, int h, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                (pixels[(y * w + x) * 3], pixels[(y * w + x) * 3 + 1], pixels[(y * w + x) * 3 + 2]) = colour(x, y);
        return new RgbImage(w, h, pixels);
    }

    [Fact]
    public void Halving_averages_each_two_by_two_block()
    {
        // A one-pixel checkerboard of black and white halves to mid grey everywhere: no source pixel is skipped.
        var checker = Filled(8, 6, (x, y) => (x + y) % 2 == 0 ? ((byte)0, (byte)0, (byte)0) : ((byte)255, (byte)255, (byte)255));
        var half = ImageResize.Resize(checker, 4, 3);
        Assert.Equal((4, 3), (half.Width, half.Height));
        Assert.All(Enumerable.Range(0, 12), i => Assert.Equal(((byte)128, (byte)128, (byte)128), half[i % 4, i / 4]));
    }

    [Fact]
    public void Shrinking_by_a_fraction_weights_pixels_by_overlap()
    {
        // 3 -> 2: target 0 covers source 0 and half of 1; (0 * 1 + 90 * 0.5) / 1.5 = 30.
        var row = Filled(3, 1, (x, _) => x switch { 0 => ((byte)0, (byte)0, (byte)0), 1 => ((byte)90, (byte)90, (byte)90), _ => ((byte)180, (byte)180, (byte)180) });
        var two = ImageResize.Resize(row, 2, 1);
        Assert.Equal(((byte)30, (byte)30, (byte)30), two[0, 0]);
        Assert.Equal(((byte)150, (byte)150, (byte)150), two[1, 0]);
    }

    [Fact]
    public void Enlarging_interpolates_between_pixel_centres_and_keeps_flat_colour()
    {
        var row = Filled(2, 1, (x, _) => x == 0 ? ((byte)0, (byte)10, (byte)200) : ((byte)100, (byte)10, (byte)200));
        var four = ImageResize.Resize(row, 4, 2);
        // Target centres 0.5, 1.5, 2.5, 3.5 sit at source positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        Assert.Equal(new byte[] { 0, 25, 75, 100 }, Enumerable.Range(0, 4).Select(x => four[x, 1].R).ToArray());
        Assert.All(Enumerable.Range(0, 8), i => Assert.Equal(((byte)10, (byte)200), (four[i % 4, i / 4].G, four[i % 4, i / 4].B)));
    }

    [Fact]
    public void The_same_size_is_the_same_image_and_a_bad_size_is_refused()
    {
        var image = Filled(3, 3, (x, y) => ((byte)x, (byte)y, 0));
        Assert.Same(image, ImageResize.Resize(image, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageResize.Resize(image, 0, 3));
    }
}
