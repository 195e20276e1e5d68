using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class RendererTests
{
    static (int R, int G, int B) At(RgbImage image, int x, int y) { var p = image[x, y]; return (p.R, p.G, p.B); }

    [Fact]
    public void Square_on_integer_edges_fills_exactly_its_pixels()
    {
        // Box [10, 22) x [20, 32): pixel i covers [i, i+1).
        var image = SceneRenderer.Render(new Scene([new ShapeObject(ShapeColor.Blue, ShapeKind.Square, 16, 26, 12)]));
        Assert.Equal(64, image.Width);
        Assert.Equal(64, image.Height);
        Assert.Equal((40, 80, 220), At(image, 10, 20));
        Assert.Equal((40, 80, 220), At(image, 21, 31));
        Assert.Equal((255, 255, 255), At(image, 9, 25));
        Assert.Equal((255, 255, 255), At(image, 22, 25));
        Assert.Equal((255, 255, 255), At(image, 15, 19));
        Assert.Equal((255, 255, 255), At(image, 15, 32));
        Assert.Equal((255, 255, 255), At(image, 0, 0));
    }

    [Fact]
    public void Half_covered_edge_pixels_blend_half_way_to_white()
    {
        // Box [10.5, 22.5): pixel 10 is half covered.
        var image = SceneRenderer.Render(new Scene([new ShapeObject(ShapeColor.Red, ShapeKind.Square, 16.5, 26, 12)]));
        var (r, g, b) = At(image, 10, 25);
        Assert.InRange(r, 236, 239);   // (220 + 255) / 2 = 237.5
        Assert.InRange(g, 146, 149);   // (40 + 255) / 2 = 147.5
        Assert.InRange(b, 146, 149);
        Assert.Equal((220, 40, 40), At(image, 11, 25));
    }

    [Fact]
    public void Triangle_points_up_and_circle_is_round()
    {
        var image = SceneRenderer.Render(new Scene([
            new ShapeObject(ShapeColor.Green, ShapeKind.Triangle, 16, 16, 16),
            new ShapeObject(ShapeColor.Yellow, ShapeKind.Circle, 44, 44, 16)]));
        int Row(int y, int from, int to) => Enumerable.Range(from, to - from).Count(x => image[x, y].R < 128);
        Assert.True(Row(9, 8, 24) < Row(22, 8, 24), "a triangle is narrow at the top and wide at the base");
        Assert.Equal((40, 160, 60), At(image, 16, 22));
        // Circle of diameter 16 centred at (44, 44): the box corner is outside, the centre inside.
        Assert.Equal((255, 255, 255), At(image, 36, 36));
        Assert.Equal((240, 200, 30), At(image, 44, 44));
        int across = Enumerable.Range(30, 30).Count(x => image[x, 44].B < 128);
        int down = Enumerable.Range(30, 30).Count(y => image[44, y].B < 128);
        Assert.Equal(16, across);
        Assert.Equal(across, down);
    }

    [Fact]
    public void Png_round_trip_keeps_every_byte()
    {
        var image = SceneRenderer.Render(SceneSampler.RandomScene(3, new Random(7)));
        string path = Path.Combine(Path.GetTempPath(), $"shapes-{Guid.NewGuid():N}.png");
        try
        {
            PngCodec.Write(image, path);
            var back = PngCodec.Read(path);
            Assert.Equal(image.Pixels, back.Pixels);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Resize_changes_size_and_keeps_colours()
    {
        var image = SceneRenderer.Render(new Scene([new ShapeObject(ShapeColor.Purple, ShapeKind.Square, 32, 32, 16)]));
        var small = ImageResize.Resize(image, 32, 32);
        Assert.Equal(32, small.Width);
        Assert.Equal((150, 50, 190), At(small, 16, 16));
        Assert.Equal((255, 255, 255), At(small, 2, 2));
    }
}
