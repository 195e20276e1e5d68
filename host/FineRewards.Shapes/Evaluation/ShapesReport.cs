using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.World;

namespace FineRewards.Shapes.Evaluation;

/// <summary>One candidate image of a prompt and its verdict.</summary>
public sealed record CandidateResult(int Candidate, string File, EvaluationResult Result);

/// <summary>All candidates of one prompt (line <see cref="Index"/> of the prompts file).</summary>
public sealed record PromptResult(int Index, string Prompt, PromptSpec Spec, IReadOnlyList<CandidateResult> Candidates)
{
    public bool AnyCorrect => Candidates.Any(c => c.Result.Correct);
}

/// <summary>Accuracy of one task: correct images / images, and prompts with at least one correct candidate.</summary>
public sealed record TaskSummary(PromptTask Task, int Prompts, int Images, int Correct, int PromptsAnyCorrect)
{
    public double Accuracy => Images == 0 ? double.NaN : (double)Correct / Images;
    public double AnyCorrect => Prompts == 0 ? double.NaN : (double)PromptsAnyCorrect / Prompts;
}

/// <summary>
/// The ground-truth report of a set of generated images (spec, "Correctness"): accuracy per task,
/// overall = mean of the task accuracies (of the tasks present), and the fraction of prompts with
/// at least one correct image among their candidates.
/// </summary>
public sealed record ShapesReport(IReadOnlyList<PromptResult> Prompts)
{
    public IReadOnlyList<TaskSummary> Tasks => PromptWords.Tasks
        .Select(t => Prompts.Where(p => p.Spec.Task == t).ToList())
        .Select((list, i) => new TaskSummary(PromptWords.Tasks[i], list.Count, list.Sum(p => p.Candidates.Count),
            list.Sum(p => p.Candidates.Count(c => c.Result.Correct)), list.Count(p => p.AnyCorrect)))
        .ToList();

    /// <summary>Mean of the accuracies of the tasks that have images; NaN when none has.</summary>
    public double Overall
    {
        get
        {
            var present = Tasks.Where(t => t.Images > 0).ToList();
            return present.Count == 0 ? double.NaN : present.Average(t => t.Accuracy);
        }
    }

    public double AnyCorrect => Prompts.Count == 0 ? double.NaN : (double)Prompts.Count(p => p.AnyCorrect) / Prompts.Count;

    public int Images => Prompts.Sum(p => p.Candidates.Count);

    public IReadOnlyList<string> MissingTasks => Tasks.Where(t => t.Images == 0).Select(t => t.Task.Key()).ToList();

    /// <summary>A fixed-width table, one row per task, then overall.</summary>
    public string FormatTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{"task",-12} {"prompts",7} {"images",7} {"correct",7} {"accuracy",8} {"any-of-K",8}");
        foreach (var t in Tasks)
            sb.AppendLine($"{t.Task.Key(),-12} {t.Prompts,7} {t.Images,7} {t.Correct,7} {Num(t.Accuracy),8} {Num(t.AnyCorrect),8}");
        sb.AppendLine($"{"overall",-12} {Prompts.Count,7} {Images,7} {Prompts.Sum(p => p.Candidates.Count(c => c.Result.Correct)),7} {Num(Overall),8} {Num(AnyCorrect),8}");
        if (MissingTasks.Count > 0) sb.AppendLine($"(overall averages the tasks present; no images for: {string.Join(", ", MissingTasks)})");
        return sb.ToString();
    }

    static string Num(double v) => double.IsNaN(v) ? "-" : v.ToString("0.000", CultureInfo.InvariantCulture);

    static JsonNode? Number(double v) => double.IsNaN(v) ? null : JsonValue.Create(Math.Round(v, 6));

    static JsonNode? Round(double v, int digits = 3) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, digits)) : null;

    public string ToJson()
    {
        var tasks = new JsonObject();
        foreach (var t in Tasks)
            tasks[t.Task.Key()] = new JsonObject
            {
                ["prompts"] = t.Prompts, ["images"] = t.Images, ["correct"] = t.Correct,
                ["accuracy"] = Number(t.Accuracy), ["any_correct"] = Number(t.AnyCorrect),
            };
        var prompts = new JsonArray();
        foreach (var p in Prompts)
        {
            var candidates = new JsonArray();
            foreach (var c in p.Candidates)
            {
                var objects = new JsonArray();
                foreach (var o in c.Result.Objects)
                    objects.Add(new JsonObject
                    {
                        ["color"] = o.Color?.Word(),
                        ["shape"] = o.Shape?.Word(),
                        ["x"] = Round(o.X), ["y"] = Round(o.Y), ["size"] = Round(o.Size),
                        ["bbox"] = new JsonArray(o.Box.X, o.Box.Y, o.Box.Width, o.Box.Height),
                        ["pixels"] = o.Pixels,
                        ["rgb"] = new JsonArray(o.Rgb.R, o.Rgb.G, o.Rgb.B),
                        ["color_distance"] = Round(o.ColorDistance, 1),
                        ["fit_error"] = Round(o.FitError),
                        ["issue"] = o.Issue,
                    });
                candidates.Add(new JsonObject
                {
                    ["candidate"] = c.Candidate,
                    ["file"] = c.File,
                    ["correct"] = c.Result.Correct,
                    ["reasons"] = new JsonArray(c.Result.Reasons.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray()),
                    ["relation_slack"] = c.Result.RelationSlack is double s ? Round(s) : null,
                    ["objects"] = objects,
                });
            }
            prompts.Add(new JsonObject
            {
                ["index"] = p.Index, ["prompt"] = p.Prompt, ["task"] = p.Spec.Task.Key(),
                ["any_correct"] = p.AnyCorrect, ["candidates"] = candidates,
            });
        }
        var root = new JsonObject
        {
            ["world"] = "shapes-v1",
            ["overall"] = Number(Overall),
            ["any_correct"] = Number(AnyCorrect),
            ["images"] = Images,
            ["tasks"] = tasks,
            ["missing_tasks"] = new JsonArray(MissingTasks.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
            ["prompts"] = prompts,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
