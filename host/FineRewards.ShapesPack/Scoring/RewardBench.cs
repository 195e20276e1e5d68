using System.Diagnostics;
using System.Globalization;
using System.Text;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Captioner;
using FineRewards.ShapesPack.Contrastive;
using FineRewards.ShapesPack.Data;
using FineRewards.ShapesPack.Readers;
using FineRewards.ShapesPack.Segmenter;

namespace FineRewards.ShapesPack.Scoring;

/// <summary>How often a reward scored the correct render above, equal to, or below the near-miss render.</summary>
public sealed record PairTally(int Higher, int Ties, int Lower)
{
    public int Total => Higher + Ties + Lower;
    public double HigherRate => Total == 0 ? 0 : (double)Higher / Total;
}

/// <summary>
/// `finerewards bench rewards`: the reader models' metrics on held-out renders, a reward sanity check
/// (test-split prompts: a correct render against a render of a near-miss prompt with a wrong colour,
/// count or relation — which reward prefers the correct one), and milliseconds per image for each
/// reader and reward at batch K.
/// </summary>
public static class RewardBench
{
    /// <param name="rewards">Names among <see cref="ShapesScorer.Known"/>.</param>
    public static string Run(string packFolder, int prompts, int evalImages, int k, int repeats, long seed, IReadOnlyList<string> rewards, RewardOptions options, Action<string> progress)
    {
        var report = new StringBuilder();
        using var scorer = new ShapesScorer(packFolder, rewards, options);
        var readers = scorer.Readers;
        report.AppendLine($"pack: {packFolder}; libtorch threads: {TorchSharp.torch.get_num_threads()}; seed {seed}");

        progress("reader metrics on held-out renders");
        var random = new Random(unchecked((int)seed * 7 + 3));
        Append(report, "captioner", CaptionerMetrics.Measure(readers.Captioner, random, evalImages));
        Append(report, "segmenter", SegmenterMetrics.Measure(readers.Segmenter, random, evalImages));
        Append(report, "contrastive", ContrastiveMetrics.Measure(readers.Contrastive, random, Math.Max(1, evalImages / 64)));

        progress($"reward sanity on {prompts} test-split prompts");
        var tallies = Sanity(scorer, prompts, seed);
        report.AppendLine();
        report.AppendLine($"reward sanity: correct render vs near-miss render, {prompts} test-split prompts (higher / tie / lower)");
        foreach (var (key, byReward) in tallies)
            report.AppendLine($"  {key,-12} " + string.Join("  ", byReward.Select(r => $"{r.Key} {r.Value.Higher}/{r.Value.Ties}/{r.Value.Lower} ({r.Value.HigherRate:0.00})")));

        progress($"timing at K = {k}, {repeats} repeats");
        report.AppendLine();
        report.AppendLine($"time per image (ms), batches of K = {k}, mean of {repeats} batches after one warm-up:");
        var images = Enumerable.Range(0, k).Select(i => SceneRenderer.Render(ReaderScenes.Sample(new Random(i + 99)).Scene)).ToList();
        Time(report, "captioner (greedy)", k, repeats, () => readers.Captioner.Caption(images));
        Time(report, "segmenter", k, repeats, () => readers.Segmenter.Segment(images));
        Time(report, "contrastive (images)", k, repeats, () => readers.Contrastive.EmbedImages(images));
        foreach (var (name, reward) in scorer.Rewards)
            Time(report, $"reward {name}", k, repeats, () => reward.Score("a red circle to the left of a blue square", images));
        return report.ToString();
    }

    static void Append(StringBuilder report, string name, IReadOnlyDictionary<string, double> metrics) =>
        report.AppendLine($"{name,-12} " + string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value.ToString("0.###", CultureInfo.InvariantCulture)}")));

    static void Time(StringBuilder report, string name, int k, int repeats, Action run)
    {
        run();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++) run();
        report.AppendLine($"  {name,-22} {clock.Elapsed.TotalMilliseconds / repeats / k,8:0.0}");
    }

    /// <summary>Per task and overall, per reward: how often the correct render scores higher than the near-miss one.</summary>
    public static SortedDictionary<string, SortedDictionary<string, PairTally>> Sanity(ShapesScorer scorer, int prompts, long seed)
    {
        var random = new Random(unchecked((int)seed));
        var chosen = PromptCatalog.Split(PromptSplit.Test).OrderBy(_ => random.Next()).Take(prompts).ToList();
        var result = new SortedDictionary<string, SortedDictionary<string, PairTally>>(StringComparer.Ordinal);
        foreach (var spec in chosen)
        {
            var wrong = PromptPerturbation.Perturb(spec, PromptPerturbation.ForTask(spec.Task), random);
            var pair = new List<RgbImage>
            {
                SceneRenderer.Render(SceneSampler.Sample(spec, random)),
                SceneRenderer.Render(SceneSampler.Sample(wrong, random)),
            };
            foreach (var (name, reward) in scorer.Rewards)
            {
                if (name == "random") continue;
                var s = reward.Score(spec.Text, pair);
                int cmp = s[0].Score.CompareTo(s[1].Score);
                foreach (var key in new[] { "all", spec.Task.Key() })
                {
                    if (!result.TryGetValue(key, out var byReward)) result[key] = byReward = new SortedDictionary<string, PairTally>(StringComparer.Ordinal);
                    var t = byReward.GetValueOrDefault(name) ?? new PairTally(0, 0, 0);
                    byReward[name] = cmp > 0 ? t with { Higher = t.Higher + 1 } : cmp == 0 ? t with { Ties = t.Ties + 1 } : t with { Lower = t.Lower + 1 };
                }
            }
        }
        return result;
    }
}
