using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Diffusion;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Tests;

/// <summary>The round-trip measurement on known "VAEs": exact, blank, and one that swaps red and blue.</summary>
public class VaeRoundTripTests
{
    const int Prompts = 24;

    static RoundTripGroup Color(RoundTripResult r, ShapeColor c) => r.Colors.Single(g => g.Name == c.Word());

    [Fact]
    public void An_exact_round_trip_keeps_every_object_and_colour()
    {
        var r = VaeRoundTrip.Measure(x => x.clone(), samplesPerPrompt: 1, promptLimit: Prompts);
        Assert.Equal(1.0, r.Report.Overall);
        Assert.Equal(0.0, r.Mse, 6);
        foreach (var g in r.Colors.Concat(r.Shapes))
        {
            Assert.True(g.Objects > 0, $"no {g.Name} objects in {Prompts} prompts");
            Assert.Equal(g.Objects, g.Kept);
            Assert.Equal(1.0, g.ImageAccuracy);
        }
        foreach (var g in r.Colors) Assert.InRange(g.MeanColorDistance, 0, 3);
    }

    [Fact]
    public void A_blank_round_trip_loses_every_object_at_its_palette_distance_from_white()
    {
        var r = VaeRoundTrip.Measure(x => ones_like(x), samplesPerPrompt: 1, promptLimit: Prompts);
        Assert.Equal(0.0, r.Report.Overall);
        foreach (var c in Palette.Colors)
        {
            var g = Color(r, c);
            Assert.Equal(0, g.Kept);
            Assert.Equal(0, g.ColorKept);
            var (red, green, blue) = c.Rgb();
            Assert.Equal(Math.Sqrt(Math.Pow(255 - red, 2) + Math.Pow(255 - green, 2) + Math.Pow(255 - blue, 2)), g.MeanColorDistance, 6);
        }
    }

    [Fact]
    public void Swapping_red_and_blue_channels_is_seen_as_colour_drift_of_red_and_blue_only()
    {
        // (220, 40, 40) red becomes (40, 40, 220), 40 from blue; blue becomes (220, 80, 40), 40 from red;
        // green (40, 160, 60) becomes (60, 160, 40), still green.
        var r = VaeRoundTrip.Measure(x => x.flip(1), samplesPerPrompt: 1, promptLimit: Prompts);
        Assert.Equal(0, Color(r, ShapeColor.Red).ColorKept);
        Assert.Equal(0, Color(r, ShapeColor.Blue).ColorKept);
        Assert.Equal(0, Color(r, ShapeColor.Red).Kept);
        var green = Color(r, ShapeColor.Green);
        Assert.Equal(green.Objects, green.ColorKept);
        Assert.InRange(Color(r, ShapeColor.Red).MeanColorDistance, 250, 259);   // |(220, 40, 40) - (40, 40, 220)| = 254.6
        Assert.True(r.Report.Overall < 0.5);
    }

    [Fact]
    public void Saved_images_are_judged_again_after_the_round_trip()
    {
        string folder = Directory.CreateTempSubdirectory("vae-roundtrip-images-").FullName;
        try
        {
            var prompts = PromptCatalog.Split(PromptSplit.Test).Take(Prompts).ToList();
            var results = prompts.Select((p, i) =>
            {
                var candidates = Enumerable.Range(0, 2).Select(c =>
                {
                    var image = SceneRenderer.Render(SceneSampler.Sample(p, 10 * i + c));
                    string file = CandidateFiles.ImageName(i, c);
                    PngCodec.Write(image, Path.Combine(folder, file));
                    return new CandidateResult(c, file, ShapesEvaluator.Evaluate(image, p));
                }).ToList();
                return new PromptResult(i, p.Text, p, candidates);
            }).ToList();
            var judged = new ShapesReport(results);
            Assert.Equal(1.0, judged.Overall);

            var (same, kept) = VaeRoundTrip.MeasureImages(x => x.clone(), judged, folder);
            Assert.Equal(1.0, same.Overall);
            Assert.Equal(1.0, kept);
            var (swapped, swappedKept) = VaeRoundTrip.MeasureImages(x => x.flip(1), judged, folder);
            // Only green survives the swap ((40, 160, 60) becomes (60, 160, 40)); every other colour is misread or off-palette.
            int allGreen = results.SelectMany(p => p.Candidates).Count(c => c.Result.Objects.All(o => o.Color == ShapeColor.Green));
            Assert.Equal(allGreen, swapped.Prompts.SelectMany(p => p.Candidates).Count(c => c.Result.Correct));
            Assert.Equal((double)allGreen / judged.Images, swappedKept, 9);
            Assert.True(swappedKept < 0.5);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
