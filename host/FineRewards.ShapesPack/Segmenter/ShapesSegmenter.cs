using FineRewards.Contracts;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Segmenter;

/// <summary>
/// The Shapes pack's segmenter (the Grounded-SAM stand-in) behind <see cref="ISegmenter"/>. Every
/// 4-connected region of pixels that share one predicted object class becomes a segment; regions
/// smaller than MinArea pixels (anti-aliasing fringes, speckles) are dropped. Confidence is the mean
/// probability of the segment's class over its pixels. Segments come in reading order (box left, then top).
/// </summary>
public sealed class ShapesSegmenter : ISegmenter, IDisposable
{
    public const string Component = "segmenter";
    readonly ShapesSegmenterModel _model;
    readonly object _lock = new();

    public string Name => "shapes-segmenter";
    public ShapesSegmenterModel Model => _model;

    public ShapesSegmenter(ShapesSegmenterModel model)
    {
        _model = model;
        _model.eval();
    }

    public static ShapesSegmenter Load(string packFolder)
    {
        string folder = Path.Combine(packFolder, Component);
        var model = new ShapesSegmenterModel(ReaderTraining.LoadConfig<ShapesSegmenterConfig>(folder));
        ReaderTraining.LoadWeights(model, folder);
        return new ShapesSegmenter(model);
    }

    public IReadOnlyList<IReadOnlyList<Segment>> Segment(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        float[] probs;
        long[] classes;
        int k, n = ImageTensors.Size;
        lock (_lock)
        {
            (k, classes, probs) = Nn.NativeCalls.Run(() =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var p = _model.forward(ImageTensors.FromImages(images)).softmax(1);   // [B, K, 64, 64]
                return ((int)p.shape[1], p.argmax(1).contiguous().data<long>().ToArray(), p.contiguous().data<float>().ToArray());
            });
        }
        var result = new List<IReadOnlyList<Segment>>(images.Count);
        for (int b = 0; b < images.Count; b++)
            result.Add(Regions(classes[(b * n * n)..((b + 1) * n * n)], probs[(b * k * n * n)..((b + 1) * k * n * n)], n));
        return result;
    }

    List<Segment> Regions(long[] classes, float[] probs, int n)
    {
        var seen = new bool[n * n];
        var segments = new List<Segment>();
        var stack = new Stack<int>();
        var members = new List<int>();
        for (int start = 0; start < n * n; start++)
        {
            long cls = classes[start];
            if (cls == 0 || seen[start]) continue;
            members.Clear();
            stack.Push(start);
            seen[start] = true;
            while (stack.Count > 0)
            {
                int at = stack.Pop();
                members.Add(at);
                int x = at % n, y = at / n;
                Visit(x - 1, y); Visit(x + 1, y); Visit(x, y - 1); Visit(x, y + 1);
            }
            if (members.Count < _model.Config.MinArea) continue;
            var bits = new bool[n * n];
            int x0 = n, y0 = n, x1 = -1, y1 = -1;
            double confidence = 0;
            foreach (int at in members)
            {
                bits[at] = true;
                int x = at % n, y = at / n;
                x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
                confidence += probs[(int)cls * n * n + at];
            }
            segments.Add(new Segment(_model.Config.Labels[(int)cls], Math.Round(confidence / members.Count, 4),
                new Box(x0, y0, x1 - x0 + 1, y1 - y0 + 1), RunLengthMask.FromBits(n, n, bits)));

            void Visit(int x, int y)
            {
                if (x < 0 || y < 0 || x >= n || y >= n) return;
                int i = y * n + x;
                if (seen[i] || classes[i] != cls) return;
                seen[i] = true;
                stack.Push(i);
            }
        }
        return segments.OrderBy(s => s.Box.X).ThenBy(s => s.Box.Y).ToList();
    }

    public void Dispose() => _model.Dispose();
}
