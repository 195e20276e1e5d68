using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Tests;

/// <summary>The eval-shapes pipeline end to end: prompts file, PNG folder, report, table, JSON.</summary>
public sealed class EvalRunTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"shapes-eval-{Guid.NewGuid():N}");

    public EvalRunTests() => Directory.CreateDirectory(Path.Combine(_dir, "images"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Images => Path.Combine(_dir, "images");

    string WritePrompts(IEnumerable<PromptSpec> prompts)
    {
        string path = Path.Combine(_dir, "prompts.txt");
        PromptCatalog.WritePromptsFile(path, prompts);
        return path;
    }

    void Save(int prompt, int candidate, Scene scene) =>
        PngCodec.Write(SceneRenderer.Render(scene), Path.Combine(Images, CandidateFiles.ImageName(prompt, candidate)));

    [Fact]
    public void Report_counts_per_task_overall_and_any_of_k()
    {
        // Two prompts per task, K = 2. Candidate 1 of the first prompt of each task is a wrong image
        // (a lone yellow triangle never answers these prompts), and for counting both candidates of
        // the first prompt are wrong.
        var prompts = new List<PromptSpec>();
        foreach (var task in PromptWords.Tasks)
            prompts.AddRange(PromptCatalog.All(task).Where(p => !p.Counts.ContainsKey((ShapeColor.Yellow, ShapeKind.Triangle))).Take(2));
        string file = WritePrompts(prompts);
        var wrong = new Scene([new ShapeObject(ShapeColor.Yellow, ShapeKind.Triangle, 30, 30, 12)]);
        int wrongImages = 0;
        for (int i = 0; i < prompts.Count; i++)
            for (int c = 0; c < 2; c++)
            {
                bool firstOfTask = i % 2 == 0;
                bool bad = firstOfTask && (c == 1 || prompts[i].Task == PromptTask.Counting);
                Save(i, c, bad ? wrong : SceneSampler.Sample(prompts[i], 1000 * i + c));
                if (bad) wrongImages++;
            }

        var report = ShapesEvalRun.Run(file, Images, k: 2);
        Assert.Equal(prompts.Count * 2, report.Images);
        Assert.Equal(prompts.Count * 2 - wrongImages, report.Prompts.Sum(p => p.Candidates.Count(c => c.Result.Correct)));
        foreach (var t in report.Tasks)
        {
            Assert.Equal(2, t.Prompts);
            Assert.Equal(4, t.Images);
            Assert.Equal(t.Task == PromptTask.Counting ? 0.5 : 0.75, t.Accuracy, 9);
            Assert.Equal(t.Task == PromptTask.Counting ? 0.5 : 1.0, t.AnyCorrect, 9);
        }
        Assert.Equal((0.75 * 3 + 0.5) / 4, report.Overall, 9);
        Assert.Equal(7.0 / 8, report.AnyCorrect, 9);

        var json = JsonNode.Parse(report.ToJson())!;
        Assert.Equal(report.Overall, json["overall"]!.GetValue<double>(), 6);
        Assert.Equal(0.5, json["tasks"]!["counting"]!["accuracy"]!.GetValue<double>(), 9);
        var firstWrong = json["prompts"]![0]!["candidates"]![1]!;
        Assert.False(firstWrong["correct"]!.GetValue<bool>());
        Assert.Equal("yellow", firstWrong["objects"]![0]!["color"]!.GetValue<string>());
        Assert.Equal("triangle", firstWrong["objects"]![0]!["shape"]!.GetValue<string>());
        Assert.NotEmpty(firstWrong["reasons"]!.AsArray());

        string table = report.FormatTable();
        Assert.Contains("counting", table);
        Assert.Contains("0.500", table);
        Assert.Contains($"{report.Overall:0.000}", table);
    }

    [Fact]
    public void K_defaults_to_the_candidates_present_and_a_fixed_k_needs_them_all()
    {
        var prompts = PromptCatalog.All(PromptTask.Single).Take(2).ToList();
        string file = WritePrompts(prompts);
        Save(0, 0, SceneSampler.Sample(prompts[0], 1));
        Save(0, 1, SceneSampler.Sample(prompts[0], 2));
        Save(0, 2, SceneSampler.Sample(prompts[0], 3));
        Save(1, 0, SceneSampler.Sample(prompts[1], 4));

        var report = ShapesEvalRun.Run(file, Images);
        Assert.Equal([3, 1], report.Prompts.Select(p => p.Candidates.Count));
        Assert.Equal(1.0, report.Overall);
        Assert.Equal(["two_objects", "counting", "position"], report.MissingTasks);

        var e = Assert.Throws<InputException>(() => ShapesEvalRun.Run(file, Images, k: 2));
        Assert.Contains("p0001_c1.png", e.Message);
        Assert.Throws<InputException>(() => ShapesEvalRun.Run(file, Path.Combine(_dir, "nowhere")));
    }

    [Fact]
    public void Images_of_other_sizes_are_resized_before_evaluation()
    {
        var prompt = PromptGrammar.Parse("a green circle to the left of a purple triangle");
        string file = WritePrompts([prompt]);
        var big = ImageResize.Resize(SceneRenderer.Render(SceneSampler.Sample(prompt, 8)), 128, 128);
        PngCodec.Write(big, Path.Combine(Images, CandidateFiles.ImageName(0, 0)));
        var report = ShapesEvalRun.Run(file, Images, k: 1);
        Assert.True(report.Prompts[0].Candidates[0].Result.Correct, string.Join("; ", report.Prompts[0].Candidates[0].Result.Reasons));
    }

    [Fact]
    public void A_bad_prompt_line_names_the_file_and_line()
    {
        string file = Path.Combine(_dir, "bad.txt");
        File.WriteAllText(file, "a red circle\n\na red circle beside a blue square\n");
        var e = Assert.Throws<InputException>(() => ShapesEvalRun.ReadPrompts(file));
        Assert.Equal($"{file} line 3", e.Field);
        Assert.Contains("beside", e.Message);
    }
}
