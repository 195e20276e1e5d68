using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Rewards.Onnx;

/// <summary>
/// Settings of "everything" mode, named as in segment-anything's <c>SamAutomaticMaskGenerator</c> (same defaults
/// except <see cref="PointsPerSide"/>, 16 rather than 32: the official decoder export takes one prompt per run, and
/// 256 decoder runs per image is already most of the time on a CPU).
/// </summary>
/// <param name="PointsPerSide">The grid of single-point prompts is PointsPerSide x PointsPerSide over the image.</param>
/// <param name="PredIouThresh">Keep masks whose predicted IoU is at least this.</param>
/// <param name="StabilityScoreThresh">Keep masks whose stability (IoU of the mask at threshold ± offset) is at least this.</param>
/// <param name="StabilityScoreOffset">Logit offset of the stability score.</param>
/// <param name="BoxNmsThresh">Box IoU above which the lower-rated of two masks is dropped.</param>
/// <param name="MinMaskRegionArea">Islands and holes smaller than this many pixels are removed/filled (0 turns it off; SAM's default).</param>
/// <param name="MaxSegments">At most this many segments per image, best predicted IoU first.</param>
public sealed record SamEverythingOptions(
    int PointsPerSide = 16,
    double PredIouThresh = 0.88,
    double StabilityScoreThresh = 0.95,
    double StabilityScoreOffset = 1.0,
    double BoxNmsThresh = 0.7,
    int MinMaskRegionArea = 0,
    int MaxSegments = 32)
{
    public void Validate()
    {
        if (PointsPerSide < 1) throw new InputException("PointsPerSide", $"must be at least 1, got {PointsPerSide}");
        if (BoxNmsThresh is <= 0 or > 1) throw new InputException("BoxNmsThresh", $"must be in (0, 1], got {BoxNmsThresh}");
        if (MinMaskRegionArea < 0) throw new InputException("MinMaskRegionArea", $"must be 0 or more, got {MinMaskRegionArea}");
        if (MaxSegments < 1) throw new InputException("MaxSegments", $"must be at least 1, got {MaxSegments}");
    }
}

/// <summary>An unlabelled mask of everything mode, with its box and the scores it was kept by.</summary>
public sealed record SamRegion(bool[] Mask, int Width, int Height, Box Box, int Area, double PredictedIou, double Stability);

/// <summary>
/// Segment Anything's "everything" mode on one image embedding: a grid of single-point prompts, each mask kept when
/// its predicted IoU and stability pass, small islands and holes removed, then non-maximum suppression on boxes.
/// </summary>
public static class SamEverything
{
    public static IReadOnlyList<SamRegion> Generate(OnnxSam sam, SamEmbedding embedding, SamEverythingOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        int w = embedding.Width, h = embedding.Height;
        var candidates = new List<SamRegion>();
        int n = options.PointsPerSide;
        for (int gy = 0; gy < n; gy++)
            for (int gx = 0; gx < n; gx++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // SAM's build_point_grid: cell centres of an n x n grid over the image.
                var point = new SamPoint((float)((gx + 0.5) / n * w), (float)((gy + 0.5) / n * h), 1);
                var region = sam.Decode(embedding, [point], (logits, iou) =>
                    iou < options.PredIouThresh ? null : Measure(logits, w, h, iou, options.StabilityScoreOffset, options.StabilityScoreThresh));
                if (region is not null) candidates.Add(region);
            }
        var kept = Nms(candidates, options.BoxNmsThresh);
        if (options.MinMaskRegionArea > 0)
        {
            // As SAM's postprocess_small_regions: clean each mask, then suppress again on the new boxes.
            var cleaned = kept.Select(r =>
            {
                var bits = (bool[])r.Mask.Clone();
                RemoveSmallRegions(bits, w, h, options.MinMaskRegionArea, holes: true);
                RemoveSmallRegions(bits, w, h, options.MinMaskRegionArea, holes: false);
                return Region(bits, w, h, r.PredictedIou, r.Stability);
            }).OfType<SamRegion>().ToList();
            kept = Nms(cleaned, options.BoxNmsThresh);
        }
        return kept.Take(options.MaxSegments).ToList();
    }

    /// <summary>
    /// Stability, area and box of a mask's logits in one pass over them (the mask is 256 K floats at 512 px, read once
    /// per prompt); the bit mask is built only when the mask is kept. Same result as <see cref="Stability"/> followed by
    /// thresholding at 0.
    /// </summary>
    public static SamRegion? Measure(ReadOnlySpan<float> logits, int w, int h, double iou, double offset, double stabilityThresh)
    {
        long above = 0, aboveLow = 0;
        int minX = w, minY = h, maxX = -1, maxY = -1, area = 0;
        for (int y = 0; y < h; y++)
        {
            var row = logits.Slice(y * w, w);
            int first = -1, last = -1;
            for (int x = 0; x < row.Length; x++)
            {
                float v = row[x];
                if (v > -offset) aboveLow++;
                if (v > offset) above++;
                if (v > 0)
                {
                    if (first < 0) first = x;
                    last = x;
                    area++;
                }
            }
            if (first < 0) continue;
            if (first < minX) minX = first;
            if (last > maxX) maxX = last;
            if (y < minY) minY = y;
            maxY = y;
        }
        double stability = aboveLow == 0 ? 0 : (double)above / aboveLow;
        if (stability < stabilityThresh || area == 0) return null;
        var bits = new bool[w * h];
        for (int i = 0; i < bits.Length; i++) bits[i] = logits[i] > 0;
        return new SamRegion(bits, w, h, new Box(minX, minY, maxX - minX + 1, maxY - minY + 1), area, iou, stability);
    }

    /// <summary>IoU of the mask thresholded at +offset and at -offset: a stable mask barely moves with the threshold.</summary>
    public static double Stability(ReadOnlySpan<float> logits, double offset)
    {
        long high = 0, low = 0;
        foreach (float v in logits)
        {
            if (v > offset) high++;
            if (v > -offset) low++;
        }
        return low == 0 ? 0 : (double)high / low;
    }

    static SamRegion? Region(bool[] bits, int w, int h, double iou, double stability)
    {
        int minX = w, minY = h, maxX = -1, maxY = -1, area = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (!bits[y * w + x]) continue;
                area++;
                if (x < minX) minX = x;
                if (x > maxX) maxX = x;
                if (y < minY) minY = y;
                if (y > maxY) maxY = y;
            }
        return area == 0 ? null : new SamRegion(bits, w, h, new Box(minX, minY, maxX - minX + 1, maxY - minY + 1), area, iou, stability);
    }

    /// <summary>Greedy non-maximum suppression on boxes, best predicted IoU first (SAM ranks by it too).</summary>
    public static List<SamRegion> Nms(IReadOnlyList<SamRegion> regions, double threshold)
    {
        var kept = new List<SamRegion>();
        foreach (var r in regions.OrderByDescending(r => r.PredictedIou).ThenByDescending(r => r.Area))
            if (kept.All(k => BoxIou(k.Box, r.Box) <= threshold)) kept.Add(r);
        return kept;
    }

    public static double BoxIou(Box a, Box b)
    {
        double ix = Math.Max(0, Math.Min(a.X + a.Width, b.X + b.Width) - Math.Max(a.X, b.X));
        double iy = Math.Max(0, Math.Min(a.Y + a.Height, b.Y + b.Height) - Math.Max(a.Y, b.Y));
        double inter = ix * iy;
        double union = a.Width * a.Height + b.Width * b.Height - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>
    /// Removes connected regions (8-connected, as SAM's cv2 call) smaller than <paramref name="minArea"/>: islands of the
    /// mask, or with <paramref name="holes"/> holes in it. Like SAM, the largest island is kept even when small.
    /// </summary>
    public static void RemoveSmallRegions(bool[] bits, int w, int h, int minArea, bool holes)
    {
        bool target = !holes;   // islands are true pixels; holes are false pixels inside
        var label = new int[bits.Length];
        var components = new List<List<int>>();
        var stack = new Stack<int>();
        for (int start = 0; start < bits.Length; start++)
        {
            if (bits[start] != target || label[start] != 0) continue;
            var pixels = new List<int>();
            label[start] = components.Count + 1;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                pixels.Add(p);
                int px = p % w, py = p / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = px + dx, ny = py + dy;
                        if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                        int q = ny * w + nx;
                        if (bits[q] != target || label[q] != 0) continue;
                        label[q] = components.Count + 1;
                        stack.Push(q);
                    }
            }
            components.Add(pixels);
        }
        var small = components.Where(c => c.Count < minArea).ToList();
        if (small.Count == 0) return;
        if (!holes && small.Count == components.Count)
            small.Remove(components.MaxBy(c => c.Count)!);
        foreach (var c in small)
            foreach (int p in c) bits[p] = !target;
    }
}
