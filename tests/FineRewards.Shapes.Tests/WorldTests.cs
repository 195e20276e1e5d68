using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

public class WorldTests
{
    static ShapeObject Obj(double x, double y, double size = 12, ShapeKind shape = ShapeKind.Square) =>
        new(ShapeColor.Red, shape, x, y, size);

    [Fact]
    public void Palette_has_the_spec_colours()
    {
        Assert.Equal(((byte)220, (byte)40, (byte)40), ShapeColor.Red.Rgb());
        Assert.Equal(((byte)40, (byte)160, (byte)60), ShapeColor.Green.Rgb());
        Assert.Equal(((byte)40, (byte)80, (byte)220), ShapeColor.Blue.Rgb());
        Assert.Equal(((byte)240, (byte)200, (byte)30), ShapeColor.Yellow.Rgb());
        Assert.Equal(((byte)150, (byte)50, (byte)190), ShapeColor.Purple.Rgb());
        Assert.Equal(ShapeColor.Purple, Palette.ParseColor("purple"));
        Assert.Throws<InputException>(() => Palette.ParseColor("orange"));
        Assert.Throws<InputException>(() => Palette.ParseShape("hexagon"));
    }

    [Fact]
    public void Valid_scene_with_boxes_exactly_two_pixels_apart_is_accepted()
    {
        // Boxes [4, 16] and [18, 30] along x: a 2 px gap, overlapping along y.
        var scene = new Scene([Obj(10, 10), Obj(24, 12)]);
        Assert.Equal(2, scene.Objects.Count);
        Assert.Equal(2, scene.Objects[0].GapTo(scene.Objects[1]), 9);
    }

    [Theory]
    [InlineData(10, 10, 24, 12, 11.99)]   // too close along x, overlapping along y
    [InlineData(10, 10, 10, 10, 12)]      // same place
    public void Boxes_closer_than_two_pixels_are_refused(double x1, double y1, double x2, double y2, double size)
    {
        var e = Assert.Throws<InputException>(() => new Scene([Obj(x1, y1), new ShapeObject(ShapeColor.Blue, ShapeKind.Circle, x2 + (size - 12) / 2, y2, 12)]));
        Assert.Contains("objects[0]", e.Message);
    }

    [Fact]
    public void Diagonal_neighbours_apart_along_y_only_are_accepted()
    {
        var scene = new Scene([Obj(10, 10), Obj(15, 24)]);   // overlap along x, 2 px apart along y
        Assert.Equal(2, scene.Objects.Count);
    }

    [Theory]
    [InlineData(9.99)]
    [InlineData(18.01)]
    public void Sizes_outside_10_to_18_are_refused(double size)
    {
        var e = Assert.Throws<InputException>(() => new Scene([Obj(30, 30, size)]));
        Assert.Contains("size", e.Message);
    }

    [Theory]
    [InlineData(5.9, 30)]
    [InlineData(30, 58.1)]
    public void Objects_must_lie_inside_the_canvas(double x, double y)
    {
        var e = Assert.Throws<InputException>(() => new Scene([Obj(x, y)]));
        Assert.Contains("inside", e.Message);
        Assert.Single(new Scene([Obj(6, 58)]).Objects);   // touching the border is inside
    }

    [Fact]
    public void Scenes_hold_one_to_four_objects()
    {
        Assert.Throws<InputException>(() => new Scene([]));
        var five = Enumerable.Range(0, 5).Select(i => Obj(7 + 12.5 * i, 10, 10)).ToList();
        Assert.Throws<InputException>(() => new Scene(five));
        Assert.Equal(4, new Scene(five.Take(4).ToList()).Objects.Count);
    }
}
