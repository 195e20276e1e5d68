using System.Collections.Immutable;
using System.Diagnostics;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Ranking;
using FineRewards.Plugin;
using FineRewards.Plugin.Client;
using FineRewards.Plugin.Ui;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using SkiaSharp;

namespace FineRewards.Examples.HeadlessEditor;

/// <summary>
/// Frame time of the plugin with the candidates panel full: 16 scored candidates with segment
/// overlays on every tile and in the breakdown, the pointer sweeping across the grid (hover changes
/// every frame). No host: the data is a fixed snapshot of rendered Shapes scenes whose masks come
/// from the scenes' own geometry. Measures Frame() plus the raster flush, on the CPU.
/// </summary>
public static class Bench
{
    /// <param name="outDir">Where each state's last frame is written as PNG, with the numbers in bench.txt beside them.</param>
    public static int Run(int frames, float width, float height, float scale, string outDir, TextWriter output)
    {
        Directory.CreateDirectory(outDir);
        var job = Fixture(16);
        // For comparison: the same window with no job (prompt panel only), then tiles without overlays.
        var empty = Measure(job, frames, width, height, scale, current: false, overlays: false, Path.Combine(outDir, "bench_no_job.png"));
        var plain = Measure(job, frames, width, height, scale, current: true, overlays: false, Path.Combine(outDir, "bench_overlays_in_breakdown.png"));
        var full = Measure(job, frames, width, height, scale, current: true, overlays: true, Path.Combine(outDir, "bench_overlays_on_tiles.png"));
        var size = FrameInputs.DeviceSize(width, height, scale);
        var report = new StringWriter();
        report.WriteLine($"plugin frame at {width}x{height} logical, scale {scale} ({size.Width}x{size.Height} px){(width < FineRewardsPlugin.DockWidth ? ", docked (one column)" : "")}, {frames} frames each after 30 warm-up:");
        report.WriteLine($"  no job (prompt panel only):              {Describe(empty)}   frame: bench_no_job.png");
        report.WriteLine($"  16 candidates, overlays in breakdown:    {Describe(plain)}   frame: bench_overlays_in_breakdown.png");
        report.WriteLine($"  16 candidates, overlays on every tile:   {Describe(full)}   frame: bench_overlays_on_tiles.png   <- target: p95 under 8 ms");
        AtomicFile.WriteAllText(Path.Combine(outDir, "bench.txt"), report.ToString());
        output.Write(report.ToString());
        output.WriteLine($"frames and numbers in {Path.GetFullPath(outDir)}");
        return 0;
    }

    static string Describe(List<double> all)
    {
        double cpu = all[0], allocated = all[1];
        var times = all.Skip(2).ToList();
        double P(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
        return $"wall median {P(0.5):0.00} ms, p95 {P(0.95):0.00} ms, max {times[^1]:0.00} ms; process CPU {cpu:0.00} ms/frame, {allocated / 1024:0.0} KiB allocated/frame";
    }

    static List<double> Measure(JobView job, int frames, float width, float height, float scale, bool current, bool overlays, string png)
    {
        using var client = new OfflineClient(job);
        var document = new HeadlessDocument("bench", 64, 64, null);
        using var plugin = new FineRewardsPlugin(client, document);
        plugin.State.CurrentJob = current ? "bench" : null;
        plugin.State.OverlayOnTiles = overlays;
        var size = FrameInputs.DeviceSize(width, height, scale);
        using var bitmap = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKImageInfo.PlatformColorType, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);

        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        TimeSpan cpuStart = TimeSpan.Zero;
        long allocatedStart = 0;
        const int warmup = 30;
        bool docked = width < FineRewardsPlugin.DockWidth;
        // Docked, the grid is under the prompt form in one scroll: scroll it into view, as a user would.
        if (docked && current)
        {
            plugin.Frame(canvas, new FrameInput(width, height, scale, [], clock.Elapsed));
            var tile = plugin.Ui.WidgetRects[$"candidates.tile.{job.Order![0]}"];
            plugin.Ui.ScrollTo("dock.scroll", tile.Top - 2 * FineRewardsPlugin.StatusHeight - 40);
        }
        float left = docked ? 20 : FineRewardsPlugin.SideWidth + 20;
        for (int f = 0; f < warmup + frames; f++)
        {
            // Sweep the pointer over the candidates grid and the breakdown image.
            float x = left + (f * 37 % (int)Math.Max(1, width - left - 20));
            float y = 60 + (f * 23 % (int)Math.Max(1, height - 80));
            var input = new FrameInput(width, height, scale, [new PointerMoved(x, y)], clock.Elapsed);
            long start = Stopwatch.GetTimestamp();
            plugin.Frame(canvas, input);
            canvas.Flush();
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (f >= warmup) times.Add(ms);
            if (f == warmup - 1)
            {
                cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
                allocatedStart = GC.GetAllocatedBytesForCurrentThread();
            }
        }
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMilliseconds / frames;
        double allocated = (double)(GC.GetAllocatedBytesForCurrentThread() - allocatedStart) / frames;
        using (var image = SKImage.FromBitmap(bitmap))
        using (var data = image.Encode(SKEncodedImageFormat.Png, 100))
            AtomicFile.WriteAllBytes(png, data.AsSpan());
        times.Sort();
        // First entries: process CPU time per frame (less sensitive to a busy machine than wall time), managed bytes allocated per frame.
        times.InsertRange(0, [cpu, allocated]);
        return times;
    }

    /// <summary>A ranked job of <paramref name="k"/> candidates of "a red circle above a blue square".</summary>
    public static JobView Fixture(int k)
    {
        const string prompt = "a red circle above a blue square";
        var spec = PromptGrammar.Parse(prompt);
        var scored = new List<(RgbImage Image, List<JudgedSegment> Segments, double Caption)>();
        for (int i = 0; i < k; i++)
        {
            var scene = SceneSampler.Sample(spec, i);
            if (i % 3 == 2) scene = new Scene([scene.Objects[0] with { Color = ShapeColor.Yellow }, .. scene.Objects.Skip(1)]);
            var image = SceneRenderer.Render(scene);
            var segments = scene.Objects.Select(o => new JudgedSegment(
                new Segment(o.Name, 0.9, new Box(o.Left, o.Top, o.Size, o.Size), MaskOf(o, image.Width, image.Height)),
                spec.Groups.Any(g => g.Color == o.Color && g.Shape == o.Shape) ? Verdict.Certain
                    : spec.Groups.Any(g => g.Shape == o.Shape) ? Verdict.May : Verdict.Unlikely)).ToList();
            scored.Add((image, segments, 0.5 + 0.03 * ((i * 7) % 11)));
        }
        var ranking = CandidateRanker.Rank(scored.Select((s, i) => new CandidateScores(i.ToString(), new Dictionary<string, double>
        {
            ["caption"] = s.Caption,
            ["segments"] = s.Segments.Average(x => x.Verdict.Score()),
        })).ToList(), CombineMethod.Arl);
        var candidates = scored.Select((s, i) => (CandidateView?)new CandidateView(i, i, $"image-{i}", ImageCodec.ToSkImage(s.Image), s.Image,
        [
            new RewardView("caption", s.Caption, ranking.Candidates[i].Ranks["caption"], "a red circle above a blue square", [], []),
            new RewardView("segments", s.Segments.Average(x => x.Verdict.Score()), ranking.Candidates[i].Ranks["segments"], null, s.Segments, []),
        ], ranking.Candidates[i].Total, $"scored-{i}")).ToImmutableArray();
        return new JobView("bench", new JobParameters(prompt, K: k), JobPhase.Completed, candidates, LastSequence: 1,
            BaseSeed: 0, Order: ranking.Order.Select(int.Parse).ToList(), Selected: int.Parse(ranking.Selected), Method: "arl");
    }

    /// <summary>Pixels whose centre lies inside the object's shape.</summary>
    static RunLengthMask MaskOf(ShapeObject o, int w, int h)
    {
        var bits = new bool[w * h];
        double half = o.Size / 2;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double px = x + 0.5 - o.X, py = y + 0.5 - o.Y;
                bits[y * w + x] = o.Shape switch
                {
                    ShapeKind.Circle => px * px + py * py <= half * half,
                    ShapeKind.Square => Math.Abs(px) <= half && Math.Abs(py) <= half,
                    _ => py <= half && py >= -half && Math.Abs(px) <= (py + half) / 2,
                };
            }
        return RunLengthMask.FromBits(w, h, bits);
    }

    /// <summary>A client that never calls anything: the bench's fixed snapshot.</summary>
    sealed class OfflineClient(JobView job) : IHostClient
    {
        public ClientSnapshot Snapshot { get; } = new(1,
            new ConnectionStatus(ConnectionState.Ready, "bench: offline snapshot, no host", [],
                new HostInfo("1.0", "bench", "CPU", "shapes", ["shapes"], ["caption", "segments"], 16, 150, 64, 64)),
            ImmutableDictionary<string, JobView>.Empty.Add(job.JobId, job), ImmutableList<FeedbackView>.Empty);
        public event Action? Changed { add { } remove { } }
        public string Address => "offline";
        public string Generate(JobParameters parameters) => throw new InvalidOperationException("the bench has no host");
        public void Cancel(string jobId) { }
        public void Watch(string jobId, JobParameters parameters) { }
        public string SendFeedback(string jobId, int candidateIndex, FeedbackChoice choice, string profile) => throw new InvalidOperationException("the bench has no host");
        public string SendEdited(string jobId, int candidateIndex, RgbImage edited, string profile) => throw new InvalidOperationException("the bench has no host");
        public void Refresh() { }
        public void CheckPrompt(string pack, string prompt) { }
        public string StartTraining(TrainingParameters parameters) => throw new InvalidOperationException("the bench has no host");
        public void WatchTraining(string trainingId, TrainingParameters parameters) { }
        public void CancelTraining(string trainingId) { }
        public void ActivateLora(string loraId) { }
        public void DeleteLora(string loraId) { }
        public void Dispose() { }
    }
}
