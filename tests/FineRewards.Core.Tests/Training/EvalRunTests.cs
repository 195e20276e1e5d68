using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Core.Training;

namespace FineRewards.Core.Tests.Training;

public sealed class EvalRunTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "fr-eval-" + Guid.NewGuid().ToString("N"));

    public EvalRunTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Eval_reports_top1_and_accuracy_that_match_its_own_evidence_and_a_lora_changes_the_images()
    {
        string prompts = Path.Combine(dir, "prompts.txt");
        File.WriteAllText(prompts, "a red circle\ntwo blue squares\na green triangle\ntwo red circles\n");
        var options = new EvalOptions("test-pack", prompts, 4, 11, ["bright", "second"]);
        var summary = new EvalRun(new TestDoubleRuntime()).Run(options, Path.Combine(dir, "base"));

        var doc = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "base", EvalRun.FileName)))!;
        var promptDocs = doc["prompts"]!.AsArray();
        bool Correct(JsonNode p, int c) => p["candidates"]![c]!["ground_truth"]!["correct"]!.GetValue<bool>();
        double Score(JsonNode p, int c, string reward) => p["candidates"]![c]!["scores"]![reward]!.GetValue<double>();
        // A single reward's tied best candidates share the credit; a combination's pick is its ranker's.
        foreach (string reward in new[] { "bright", "second" })
            Assert.Equal(promptDocs.Average(p =>
            {
                double best = Enumerable.Range(0, 4).Max(c => Score(p!, c, reward));
                var tied = Enumerable.Range(0, 4).Where(c => Score(p!, c, reward) == best).ToList();
                return tied.Count(c => Correct(p!, c)) / (double)tied.Count;
            }), summary.Top1Accuracy![reward], 12);
        foreach (string combination in new[] { "arl:bright+second", "sum:bright+second", "normalized:bright+second" })
            Assert.Equal(promptDocs.Count(p => Correct(p!, p!["top1"]![combination]!.GetValue<int>())) / 4.0, summary.Top1Accuracy![combination]);
        // bright's top-1 is the candidate with the highest bright score.
        foreach (var p in promptDocs)
        {
            var scores = p!["candidates"]!.AsArray().Select(c => c!["scores"]!["bright"]!.GetValue<double>()).ToList();
            Assert.Equal(scores.IndexOf(scores.Max()), p["top1"]!["bright"]!.GetValue<int>());
        }
        int correct = promptDocs.Sum(p => Enumerable.Range(0, 4).Count(c => Correct(p!, c)));
        Assert.Equal(correct / 16.0, summary.Overall!.Accuracy);
        Assert.Equal(summary.Top1Accuracy!["arl:bright+second"], summary.Overall.SelectedAccuracy);
        Assert.Contains("| overall | 4 |", EvalRun.Format(summary));

        // Same seed: same images; a LoRA (any file the test generator reads) changes them.
        new EvalRun(new TestDoubleRuntime()).Run(options, Path.Combine(dir, "again"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "base", CandidateFiles.ImageName(1, 2))), File.ReadAllBytes(Path.Combine(dir, "again", CandidateFiles.ImageName(1, 2))));
        string lora = Path.Combine(dir, "lora.safetensors");
        File.WriteAllBytes(lora, [1, 2, 3]);
        var withLora = new EvalRun(new TestDoubleRuntime()).Run(options with { Lora = lora }, Path.Combine(dir, "lora"));
        Assert.NotNull(withLora.LoraSha256);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(dir, "base", CandidateFiles.ImageName(1, 2))), File.ReadAllBytes(Path.Combine(dir, "lora", CandidateFiles.ImageName(1, 2))));

        Assert.Equal("--lora", Assert.Throws<InputException>(() => new EvalRun(new TestDoubleRuntime()).Run(options with { Lora = Path.Combine(dir, "nope") }, dir)).Field);
    }

    [Fact]
    public void Eval_reports_each_rewards_top1_per_task_from_that_tasks_prompts_alone()
    {
        string prompts = Path.Combine(dir, "prompts.txt");
        File.WriteAllText(prompts, "a red circle\ntwo blue squares\na green triangle\ntwo red circles\nthree green squares\n");
        var summary = new EvalRun(new TestDoubleRuntime()).Run(new EvalOptions("test-pack", prompts, 4, 5, ["bright", "second"]), Path.Combine(dir, "tasks"));

        var doc = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tasks", EvalRun.FileName)))!;
        var byTask = doc["prompts"]!.AsArray().GroupBy(p => p!["candidates"]![0]!["ground_truth"]!["task"]!.GetValue<string>()).ToList();
        Assert.True(byTask.Count >= 2, "the prompts should span two tasks");
        Assert.Equal(byTask.Select(g => g.Key).Order(StringComparer.Ordinal), summary.Top1ByTask!.Keys);
        foreach (var task in byTask)
            foreach (var key in summary.Top1Accuracy!.Keys)
            {
                double expected = task.Average(p =>
                {
                    var c = p!["candidates"]!.AsArray();
                    if (key.Contains(':')) return c[p["top1"]![key]!.GetValue<int>()]!["ground_truth"]!["correct"]!.GetValue<bool>() ? 1.0 : 0.0;
                    double best = c.Max(x => x!["scores"]![key]!.GetValue<double>());
                    var tied = c.Where(x => x!["scores"]![key]!.GetValue<double>() == best).ToList();
                    return tied.Count(x => x!["ground_truth"]!["correct"]!.GetValue<bool>()) / (double)tied.Count;
                });
                Assert.Equal(expected, summary.Top1ByTask[task.Key][key], 12);
            }
        string table = EvalRun.Format(summary);
        Assert.Contains($"| top-1 per task | {string.Join(" | ", summary.Top1ByTask.Keys)} | overall |", table);
        Assert.Contains("| arl:bright+second |", table);
    }
}
