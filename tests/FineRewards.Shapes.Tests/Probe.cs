using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using Xunit.Abstractions;

namespace FineRewards.Shapes.Tests;

public class Probe(ITestOutputHelper output)
{
    [Fact]
    public void Stats()
    {
        var random = new Random(1);
        var stats = new Dictionary<string, List<(double dx, double dy, double ds, double err)>>();
        for (int s = 0; s < 300; s++)
        {
            var scene = SceneSampler.RandomScene(1, random);
            var img = SceneRenderer.Render(scene);
            var rt = ImageFiles.Resize(ImageFiles.Resize(img, 32, 32), 64, 64);
            foreach (var (im, isRt) in new[] { (img, false), (rt, true) })
            {
                var found = ObjectDetector.Detect(im);
                var o = scene.Objects[0];
                var f = found[0];
                string key = $"{o.Shape} rt={isRt}";
                if (!stats.ContainsKey(key)) stats[key] = new();
                stats[key].Add((f.X - o.X, f.Y - o.Y, f.Size - o.Size, f.FitError));
                if (Math.Max(Math.Abs(f.X - o.X), Math.Abs(f.Y - o.Y)) > 0.05) output.WriteLine($"{key} {o.X:0.000} {o.Y:0.000} {o.Size:0.000} bottom {o.Bottom:0.000} -> {f.X:0.000} {f.Y:0.000} {f.Size:0.000}");
            }
        }
        foreach (var (k, v) in stats.OrderBy(x => x.Key))
            output.WriteLine($"{k}: n {v.Count} dx mean {v.Average(x => x.dx):0.000} max {v.Max(x => Math.Abs(x.dx)):0.000}; dy mean {v.Average(x => x.dy):0.000} max {v.Max(x => Math.Abs(x.dy)):0.000}; ds mean {v.Average(x => x.ds):0.000} max {v.Max(x => Math.Abs(x.ds)):0.000}; err mean {v.Average(x => x.err):0.000} max {v.Max(x => x.err):0.000}");
    }
}
