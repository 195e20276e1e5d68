using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using Xunit.Abstractions;

namespace FineRewards.Shapes.Tests;

public class Probe2(ITestOutputHelper output)
{
    [Fact]
    public void Row()
    {
        var scene = new Scene([new ShapeObject(ShapeColor.Blue, ShapeKind.Square, 20.5, 20.5, 12)]);
        var img = SceneRenderer.Render(scene);
        var small = ImageFiles.Resize(img, 32, 32);
        var rt = ImageFiles.Resize(small, 64, 64);
        output.WriteLine(string.Join(" ", Enumerable.Range(10, 22).Select(x => img[x, 20].R)));
        output.WriteLine(string.Join(" ", Enumerable.Range(5, 11).Select(x => small[x, 10].R)));
        output.WriteLine(string.Join(" ", Enumerable.Range(10, 22).Select(x => rt[x, 20].R)));
    }
}
