using System.Globalization;
using System.Text;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>How the objects of one palette colour (or one shape) survive a VAE round trip.</summary>
/// <param name="Objects">Rendered objects of this colour/shape.</param>
/// <param name="Kept">Found again as exactly this colour and shape (the evaluator's reading of the object at its true centre).</param>
/// <param name="ColorKept">The object at its true centre has a median colour nearest this palette colour within the evaluator's tolerance (colour rows only).</param>
/// <param name="MeanColorDistance">Mean RGB distance of that median colour from the true palette colour; a lost object counts as white.</param>
/// <param name="Images">Round-trip images holding at least one object of this colour/shape, and how many the evaluator judged correct.</param>
public sealed record RoundTripGroup(string Name, int Objects, int Kept, int ColorKept, double MeanColorDistance, int Images, int CorrectImages)
{
    public double KeptShare => Objects == 0 ? double.NaN : (double)Kept / Objects;
    public double ColorKeptShare => Objects == 0 ? double.NaN : (double)ColorKept / Objects;
    public double ImageAccuracy => Images == 0 ? double.NaN : (double)CorrectImages / Images;
}

/// <summary>The evaluator on VAE round trips of seeded renders: per task (the report), per colour and per shape.</summary>
public sealed record RoundTripResult(ShapesReport Report, double Mse, IReadOnlyList<RoundTripGroup> Colors, IReadOnlyList<RoundTripGroup> Shapes)
{
    public string Format()
    {
        var sb = new StringBuilder(Report.FormatTable());
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"reconstruction mse {Mse:0.00000} ([-1, 1] images)"));
        sb.AppendLine($"{"group",-9} {"objects",7} {"kept",6} {"colour",6} {"rgb-dist",8} {"images",6} {"img-acc",7}");
        foreach (var g in Colors.Concat(Shapes))
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{g.Name,-9} {g.Objects,7} {g.KeptShare,6:0.000} {(Colors.Contains(g) ? g.ColorKeptShare.ToString("0.000", CultureInfo.InvariantCulture) : "-"),6} {(Colors.Contains(g) ? g.MeanColorDistance.ToString("0.0", CultureInfo.InvariantCulture) : "-"),8} {g.Images,6} {g.ImageAccuracy,7:0.000}"));
        return sb.ToString();
    }

    /// <summary>The numbers pack.json records, keys prefixed (e.g. "roundtrip_accuracy_overall", "roundtrip_color_kept_red"); colours and shapes without objects are left out.</summary>
    public IReadOnlyDictionary<string, double> Metrics(string prefix = "roundtrip_")
    {
        var metrics = new Dictionary<string, double>
        {
            [prefix + "mse_test"] = Math.Round(Mse, 6),
            [prefix + "accuracy_overall"] = Math.Round(Report.Overall, 4),
        };
        foreach (var t in Report.Tasks.Where(t => t.Images > 0)) metrics[$"{prefix}accuracy_{t.Task.Key()}"] = Math.Round(t.Accuracy, 4);
        foreach (var g in Colors.Where(g => g.Objects > 0))
        {
            metrics[$"{prefix}kept_{g.Name}"] = Math.Round(g.KeptShare, 4);
            metrics[$"{prefix}color_kept_{g.Name}"] = Math.Round(g.ColorKeptShare, 4);
            metrics[$"{prefix}color_distance_{g.Name}"] = Math.Round(g.MeanColorDistance, 2);
        }
        foreach (var g in Shapes.Where(g => g.Objects > 0)) metrics[$"{prefix}kept_{g.Name}"] = Math.Round(g.KeptShare, 4);
        return metrics;
    }
}

/// <summary>
/// The VAE's check: two seeded renders of every test-split prompt are encoded (posterior mean, as the
/// diffusion trainer caches them) and decoded, and the ground-truth evaluator reads the result. Each
/// rendered object is also looked up at its true centre, so colour drift (red read as crimson) is
/// told apart from lost or misshapen objects.
/// </summary>
public static class VaeRoundTrip
{
    public const int DefaultSeed = 4242;

    public static RoundTripResult Measure(AutoencoderKL vae, int samplesPerPrompt, int seed = DefaultSeed, int? promptLimit = null) =>
        Measure(vae.forward, samplesPerPrompt, seed, promptLimit);

    /// <param name="roundTrip">[S, 3, 64, 64] renders in [-1, 1] to their reconstructions, same shape</param>
    public static RoundTripResult Measure(Func<Tensor, Tensor> roundTrip, int samplesPerPrompt, int seed = DefaultSeed, int? promptLimit = null)
    {
        var prompts = PromptCatalog.Split(PromptSplit.Test);
        if (promptLimit is int limit) prompts = prompts.Take(limit).ToList();
        var random = new Random(seed);
        var results = new List<PromptResult>();
        var colors = Palette.Colors.ToDictionary(c => c, _ => new Tally());
        var shapes = Palette.Shapes.ToDictionary(s => s, _ => new Tally());
        double mseSum = 0;
        int index = 0;
        foreach (var prompt in prompts)
        {
            var scenes = Enumerable.Range(0, samplesPerPrompt).Select(_ => SceneSampler.Sample(prompt, random)).ToList();
            var renders = scenes.Select(SceneRenderer.Render).ToList();
            IReadOnlyList<RgbImage> decoded;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = ImageTensors.FromRgbImages(renders);                   // [S, 3, 64, 64]
                var y = roundTrip(x);                                          // [S, 3, 64, 64]
                mseSum += nn.functional.mse_loss(y.clamp(-1, 1), x).item<float>();
                decoded = ImageTensors.ToRgbImages(y);
            }
            var candidates = new List<CandidateResult>();
            for (int c = 0; c < decoded.Count; c++)
            {
                var result = ShapesEvaluator.Evaluate(decoded[c], prompt);
                candidates.Add(new CandidateResult(c, CandidateFiles.Id(index, c), result));
                foreach (var o in scenes[c].Objects)
                {
                    var found = result.Objects.FirstOrDefault(d => Contains(d.Box, o.X, o.Y));
                    colors[o.Color].Add(o, found, result.Correct);
                    shapes[o.Shape].Add(o, found, result.Correct);
                }
                foreach (var color in scenes[c].Objects.Select(o => o.Color).Distinct()) colors[color].AddImage(result.Correct);
                foreach (var shape in scenes[c].Objects.Select(o => o.Shape).Distinct()) shapes[shape].AddImage(result.Correct);
            }
            results.Add(new PromptResult(index++, prompt.Text, prompt, candidates));
        }
        return new RoundTripResult(new ShapesReport(results), mseSum / Math.Max(1, prompts.Count),
            colors.Select(p => p.Value.Group(p.Key.Word())).ToList(), shapes.Select(p => p.Value.Group(p.Key.Word())).ToList());
    }

    /// <summary>
    /// Images already judged (e.g. generated candidates) as a LoRA trainer sees them: read back from
    /// their PNG files in <paramref name="imagesFolder"/>, encoded (posterior mean) and decoded again,
    /// then judged once more.
    /// </summary>
    /// <returns>The verdicts on the round trips, and the share of the originally correct images that stay correct.</returns>
    public static (ShapesReport Report, double CorrectKept) MeasureImages(AutoencoderKL vae, ShapesReport judged, string imagesFolder) =>
        MeasureImages(vae.forward, judged, imagesFolder);

    /// <param name="roundTrip">[K, 3, 64, 64] images in [-1, 1] to their reconstructions, same shape</param>
    public static (ShapesReport Report, double CorrectKept) MeasureImages(Func<Tensor, Tensor> roundTrip, ShapesReport judged, string imagesFolder)
    {
        var prompts = new List<PromptResult>();
        int correct = 0, kept = 0;
        foreach (var p in judged.Prompts)
        {
            var images = p.Candidates.Select(c => PngCodec.Read(Path.Combine(imagesFolder, c.File))).ToList();
            IReadOnlyList<RgbImage> decoded;
            using (no_grad())
            using (var scope = NewDisposeScope())
                decoded = ImageTensors.ToRgbImages(roundTrip(ImageTensors.FromRgbImages(images)));   // [K, 3, 64, 64] both ways
            var candidates = p.Candidates.Select((c, i) => new CandidateResult(c.Candidate, c.File, ShapesEvaluator.Evaluate(decoded[i], p.Spec))).ToList();
            for (int i = 0; i < candidates.Count; i++)
                if (p.Candidates[i].Result.Correct) { correct++; if (candidates[i].Result.Correct) kept++; }
            prompts.Add(p with { Candidates = candidates });
        }
        return (new ShapesReport(prompts), correct == 0 ? double.NaN : (double)kept / correct);
    }

    static bool Contains(PixelBox box, double x, double y) =>
        x >= box.X && x < box.X + box.Width && y >= box.Y && y < box.Y + box.Height;

    sealed class Tally
    {
        int objects, kept, colorKept, images, correctImages;
        double distance;

        public void Add(ShapeObject truth, DetectedObject? found, bool imageCorrect)
        {
            objects++;
            if (found is { Recognised: true } && found.Color == truth.Color && found.Shape == truth.Shape) kept++;
            var rgb = found?.Rgb ?? ((byte)255, (byte)255, (byte)255);
            var (nearest, d) = ObjectDetector.NearestColor(rgb.Item1, rgb.Item2, rgb.Item3);
            if (nearest == truth.Color && d <= ObjectDetector.ColorTolerance) colorKept++;
            var (r, g, b) = truth.Color.Rgb();
            distance += Math.Sqrt(Sq(rgb.Item1 - r) + Sq(rgb.Item2 - g) + Sq(rgb.Item3 - b));
        }

        public void AddImage(bool correct) { images++; if (correct) correctImages++; }

        public RoundTripGroup Group(string name) =>
            new(name, objects, kept, colorKept, objects == 0 ? double.NaN : distance / objects, images, correctImages);

        static double Sq(double v) => v * v;
    }
}
