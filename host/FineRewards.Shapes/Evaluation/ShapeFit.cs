using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>The shape, centre and size that best explain an object's coverage map, and how well.</summary>
/// <param name="Error">Sum of |observed - model coverage| over the window divided by the object's area:
/// about 0.01 for a clean render, about 0.1 for a blurred one, 0.2 or more for the wrong shape.</param>
/// <param name="Blur">Standard deviation in pixels of the blur that made the model fit best.</param>
public readonly record struct FitResult(ShapeKind Shape, double X, double Y, double Size, double Error, double Blur);

/// <summary>
/// Fits each shape to a window of per-pixel coverage (0 = white, 1 = full colour).
///
/// Position and size come from the coverage's moments: its total is the shape's area and its
/// centroid the shape's centroid, which for a triangle lies size/6 below the centre of its box.
/// Anti-aliasing, box shrinking and bilinear enlarging all keep mass and centroid, so these
/// estimates stay exact where an edge-fitting or pixel-box estimate would shift by a fraction of
/// a pixel. The shape itself is then judged by how well its exact coverage, optionally blurred,
/// reproduces the observed pixels.
/// </summary>
public sealed class ShapeFitter
{
    /// <summary>Blur levels tried (Gaussian sigma, pixels): none, and up to a 32 -> 64 enlargement's worth.</summary>
    static readonly double[] Blurs = [0, 0.5, 0.75, 1.0, 1.25];

    readonly double[] _observed;   // coverage, row-major over the window
    readonly bool[] _use;          // false for pixels that belong to another object
    readonly double[] _model, _scratch, _blurred;
    readonly int _x0, _y0, _w, _h;
    readonly double _area, _mx, _my;

    /// <param name="x0">Window origin in image pixels; pixel (x0 + i, y0 + j) is entry j * w + i.</param>
    public ShapeFitter(double[] observed, bool[] use, int x0, int y0, int w, int h)
    {
        if (observed.Length != w * h || use.Length != w * h) throw new ArgumentException("window arrays must be w * h long");
        (_observed, _use, _x0, _y0, _w, _h) = (observed, use, x0, y0, w, h);
        _model = new double[w * h];
        _scratch = new double[w * h];
        _blurred = new double[w * h];
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
            {
                int k = j * w + i;
                if (!use[k]) continue;
                double a = observed[k];
                _area += a; _mx += a * (x0 + i + 0.5); _my += a * (y0 + j + 0.5);
            }
        if (_area > 0) { _mx /= _area; _my /= _area; }
    }

    public double Area => _area;

    public FitResult Fit(ShapeKind shape)
    {
        if (_area <= 0) return new FitResult(shape, 0, 0, 0, double.PositiveInfinity, 0);
        double size = shape switch
        {
            ShapeKind.Circle => Math.Sqrt(4 * _area / Math.PI),
            ShapeKind.Square => Math.Sqrt(_area),
            _ => Math.Sqrt(2 * _area),
        };
        double cx = _mx, cy = shape == ShapeKind.Triangle ? _my - size / 6 : _my;
        Render(shape, cx, cy, size);

        double bestError = double.PositiveInfinity, bestBlur = 0;
        foreach (double sigma in Blurs)
        {
            var model = sigma == 0 ? _model : Blur(sigma);
            double l1 = 0;
            for (int k = 0; k < model.Length; k++)
                if (_use[k]) l1 += Math.Abs(_observed[k] - model[k]);
            if (l1 < bestError) { bestError = l1; bestBlur = sigma; }
        }
        return new FitResult(shape, cx, cy, size, bestError / _area, bestBlur);
    }

    /// <summary>Separable Gaussian blur of _model into _blurred (edges clamp to zero, i.e. white).</summary>
    double[] Blur(double sigma)
    {
        int radius = (int)Math.Ceiling(2.5 * sigma);
        var kernel = new double[2 * radius + 1];
        for (int t = -radius; t <= radius; t++) kernel[t + radius] = Math.Exp(-t * t / (2 * sigma * sigma));
        double sum = kernel.Sum();
        for (int t = 0; t < kernel.Length; t++) kernel[t] /= sum;

        for (int j = 0; j < _h; j++)
            for (int i = 0; i < _w; i++)
            {
                double acc = 0;
                for (int t = -radius; t <= radius; t++)
                    if (i + t >= 0 && i + t < _w) acc += kernel[t + radius] * _model[j * _w + i + t];
                _scratch[j * _w + i] = acc;
            }
        for (int j = 0; j < _h; j++)
            for (int i = 0; i < _w; i++)
            {
                double acc = 0;
                for (int t = -radius; t <= radius; t++)
                    if (j + t >= 0 && j + t < _h) acc += kernel[t + radius] * _scratch[(j + t) * _w + i];
                _blurred[j * _w + i] = acc;
            }
        return _blurred;
    }

    const int SamplesPerRow = 8;

    /// <summary>
    /// Fills _model with the shape's area inside each window pixel: within each pixel row the shape's
    /// horizontal span is sampled at points spread over the part of the row the shape covers.
    /// </summary>
    void Render(ShapeKind shape, double cx, double cy, double size)
    {
        Array.Clear(_model);
        double half = size / 2, top = cy - half, bottom = cy + half;
        for (int j = 0; j < _h; j++)
        {
            double ya = Math.Max(_y0 + j, top), yb = Math.Min(_y0 + j + 1, bottom);
            if (yb <= ya) continue;
            double weight = (yb - ya) / SamplesPerRow;
            for (int s = 0; s < SamplesPerRow; s++)
            {
                double y = ya + (s + 0.5) * weight;
                double w = shape switch
                {
                    ShapeKind.Square => half,
                    ShapeKind.Circle => Math.Sqrt(Math.Max(0, half * half - (y - cy) * (y - cy))),
                    _ => (y - top) / 2,   // base = height, so the half-width grows by 1/2 per pixel down
                };
                AddSpan(j, cx - w, cx + w, weight);
            }
        }
    }

    void AddSpan(int row, double left, double right, double weight)
    {
        int first = Math.Max(0, (int)Math.Floor(left) - _x0), last = Math.Min(_w - 1, (int)Math.Ceiling(right) - 1 - _x0);
        int offset = row * _w;
        for (int i = first; i <= last; i++)
        {
            double px = _x0 + i;
            double overlap = Math.Min(right, px + 1) - Math.Max(left, px);
            if (overlap > 0) _model[offset + i] += weight * overlap;
        }
    }
}
