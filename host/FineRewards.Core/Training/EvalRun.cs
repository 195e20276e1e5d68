using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Ranking;

namespace FineRewards.Core.Training;

/// <param name="Lora">A LoRA checkpoint to generate with; null evaluates the base model.</param>
public sealed record EvalOptions(
    string Pack,
    string PromptsFile,
    int K,
    long Seed,
    IReadOnlyList<string> Rewards,
    string? Lora = null,
    double LoraScale = 1.0,
    GenerationSettings? Generation = null,
    IReadOnlyList<IReadOnlyList<string>>? CombineSets = null);

/// <param name="RewardMean">Mean score of all candidates, per reward.</param>
/// <param name="Top1Accuracy">Per reward, and per combination "METHOD:a+b" (arl, sum, normalized over each of
/// <see cref="EvalOptions.CombineSets"/>): the share of prompts whose top-1 of K is ground-truth correct. A single
/// reward's tied best candidates share the credit (2 tied, 1 correct: 0.5), so a reward that cannot tell candidates
/// apart scores chance, not candidate 0's accuracy. Compare with Overall.Accuracy, the chance a random pick is correct.</param>
/// <param name="Overall">SelectedAccuracy is the top-1 of ARL over the first combine set (the single reward's when there is one).</param>
/// <param name="Top1ByTask">Per task, <see cref="Top1Accuracy"/> over that task's prompts alone (same keys).</param>
public sealed record EvalSummary(
    int Prompts,
    int K,
    long Seed,
    string? Lora,
    string? LoraSha256,
    IReadOnlyDictionary<string, double> RewardMean,
    IReadOnlyDictionary<string, double>? Top1Accuracy,
    AccuracyStats? Overall,
    IReadOnlyDictionary<string, AccuracyStats>? ByTask,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? Top1ByTask = null);

/// <summary>
/// `finerewards eval`: K candidates per held-out prompt with fixed seeds (prompt p: base seed
/// <see cref="RunSeeds.Derive"/>(seed, "eval", 0, p)), scored by every reward and checked against
/// the pack's ground truth. Writes DIR/p{p:0000}_c{c}.png (the eval-shapes layout) and DIR/eval.json.
/// </summary>
public sealed class EvalRun(IModelPack runtime, IRunProgress? progress = null)
{
    readonly IRunProgress progress = progress ?? NullRunProgress.Instance;
    public const string FileName = "eval.json";

    static readonly CombineMethod[] Combinations = [CombineMethod.Arl, CombineMethod.Sum, CombineMethod.Normalized];

    /// <summary>The paper's pair (caption + sam) when both are scored, else all the rewards; none for a single reward.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> DefaultCombineSets(IReadOnlyList<string> rewards) =>
        rewards.Contains("caption") && rewards.Contains("sam") && rewards.Count > 2 ? [["caption", "sam"]]
        : rewards.Count > 1 ? [rewards] : [];

    /// <summary>The key of a combination in <see cref="EvalSummary.Top1Accuracy"/>, e.g. "arl:caption+sam".</summary>
    public static string CombinationKey(CombineMethod method, IReadOnlyList<string> set) =>
        $"{method.ToString().ToLowerInvariant()}:{string.Join('+', set)}";

    public EvalSummary Run(EvalOptions options, string outDir, CancellationToken cancellationToken = default)
    {
        if (options.K is < 1 or > TrainingRunOptions.MaxK) throw new InputException("--k", $"{options.K}; expected 1 to {TrainingRunOptions.MaxK}");
        if (runtime.Name != options.Pack) throw new InputException("--pack", $"runtime is for pack \"{runtime.Name}\", options name \"{options.Pack}\"");
        if (options.Lora is string l && !File.Exists(l) && !Directory.Exists(l)) throw new InputException("--lora", $"{l} does not exist");
        var prompts = PromptsFile.Read(options.PromptsFile, runtime.ValidatePrompt);
        var combineSets = options.CombineSets ?? DefaultCombineSets(options.Rewards);
        foreach (var set in combineSets)
        {
            if (set.Count < 2) throw new InputException("--combine-sets", $"\"{string.Join('+', set)}\" needs at least two rewards joined by +");
            foreach (var name in set)
                if (!options.Rewards.Contains(name)) throw new InputException("--combine-sets", $"\"{name}\" is not among the scored rewards ({string.Join(", ", options.Rewards)})");
        }
        var generator = runtime.RequireGenerator();
        var rewards = runtime.CreateRewards(options.Rewards);
        var truth = runtime.GroundTruth;
        var g = options.Generation ?? runtime.DefaultGeneration;
        var loras = options.Lora is null ? null : new[] { new LoraReference(Path.GetFullPath(options.Lora), options.LoraScale) };
        Directory.CreateDirectory(outDir);

        var promptDocs = new JsonArray();
        var perPrompt = new List<(string Task, bool[] Correct, Dictionary<string, double> Credit)>();
        var sums = rewards.ToDictionary(r => r.Name, _ => 0.0);
        progress.PhaseStarted(0, RunPhase.Generate, prompts.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int p = 0; p < prompts.Count; p++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long baseSeed = RunSeeds.Derive(options.Seed, "eval", 0, p);
            // Every combination is ranked below, so the operation itself does not rank.
            var bestOfK = BestOfK.Run(generator, rewards, BestOfK.Request(g, prompts[p], options.K, baseSeed, loras), settings: null, new BestOfKHooks
            {
                Generated = generated =>
                {
                    foreach (var c in generated)
                        AtomicFile.WriteAllBytes(Path.Combine(outDir, CandidateFiles.ImageName(p, c.Index)),
                            PngCodec.Encode(c.Image, [new("parameters", $"{prompts[p]}\nSeed: {c.Seed}, Lora: {options.Lora ?? "none"}")]));
                },
            }, cancellationToken);
            var candidates = bestOfK.Candidates.Select(c => c.Generated!).ToList();
            var images = candidates.Select(c => c.Image).ToList();
            var scores = rewards.ToDictionary(r => r.Name, r => bestOfK.Candidates.Select(c => c.Scores[r.Name]).ToList());
            var verdicts = truth is null ? null : images.Select(i => truth.Evaluate(prompts[p], i)).ToList();
            var top1 = new Dictionary<string, int>();
            var credit = new Dictionary<string, double>();
            foreach (var r in rewards)
            {
                var values = scores[r.Name].Select(s => s.Score).ToList();
                double best = values.Max();
                var tied = Enumerable.Range(0, options.K).Where(i => values[i] == best).ToList();
                top1[r.Name] = tied[0];
                if (verdicts is not null) credit[r.Name] = tied.Count(i => verdicts[i].Correct) / (double)tied.Count;
                sums[r.Name] += values.Sum();
            }
            foreach (var set in combineSets)
                foreach (var method in Combinations)
                {
                    var ranked = CandidateRanker.Rank(Enumerable.Range(0, options.K)
                        .Select(i => new CandidateScores(i.ToString(CultureInfo.InvariantCulture), set.ToDictionary(name => name, name => scores[name][i].Score))).ToList(),
                        method);
                    string key = CombinationKey(method, set);
                    top1[key] = int.Parse(ranked.Selected, CultureInfo.InvariantCulture);
                    if (verdicts is not null) credit[key] = verdicts[top1[key]].Correct ? 1 : 0;
                }
            if (verdicts is not null) perPrompt.Add((verdicts[0].Task, verdicts.Select(v => v.Correct).ToArray(), credit));

            var cands = new JsonArray();
            for (int c = 0; c < options.K; c++)
            {
                var o = new JsonObject { ["index"] = c, ["seed"] = candidates[c].Seed, ["image"] = CandidateFiles.ImageName(p, c) };
                var s = new JsonObject();
                var e = new JsonObject();
                foreach (var r in rewards)
                {
                    s[r.Name] = scores[r.Name][c].Score;
                    e[r.Name] = JsonSerializer.SerializeToNode(scores[r.Name][c].Evidence, EvidenceJson);
                }
                o["scores"] = s;
                o["evidence"] = e;
                if (verdicts is not null)
                    o["ground_truth"] = new JsonObject
                    {
                        ["task"] = verdicts[c].Task, ["correct"] = verdicts[c].Correct,
                        ["reasons"] = new JsonArray(verdicts[c].Reasons.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray()),
                    };
                cands.Add(o);
            }
            var top1Json = new JsonObject();
            foreach (var (k, v) in top1) top1Json[k] = v;
            promptDocs.Add(new JsonObject { ["prompt_index"] = p, ["prompt"] = prompts[p], ["base_seed"] = baseSeed, ["top1"] = top1Json, ["candidates"] = cands });
            progress.PhaseAdvanced(0, RunPhase.Generate, p + 1, prompts.Count);
        }
        progress.PhaseFinished(0, RunPhase.Generate, clock.Elapsed);

        var means = rewards.ToDictionary(r => r.Name, r => sums[r.Name] / (prompts.Count * options.K));
        Dictionary<string, double>? top1Accuracy = null;
        AccuracyStats? overall = null;
        SortedDictionary<string, AccuracyStats>? byTask = null;
        SortedDictionary<string, IReadOnlyDictionary<string, double>>? top1ByTask = null;
        if (perPrompt.Count > 0)
        {
            string main = combineSets.Count > 0 ? CombinationKey(CombineMethod.Arl, combineSets[0]) : rewards[0].Name;
            top1Accuracy = perPrompt[0].Credit.Keys.ToDictionary(k => k, k => perPrompt.Sum(x => x.Credit[k]) / perPrompt.Count);
            AccuracyStats Stats(IReadOnlyCollection<(string Task, bool[] Correct, Dictionary<string, double> Credit)> group) => new(
                group.Count,
                group.Sum(x => x.Correct.Count(c => c)) / (double)group.Sum(x => x.Correct.Length),
                group.Sum(x => x.Credit[main]) / group.Count,
                group.Count(x => x.Correct.Any(c => c)) / (double)group.Count);
            overall = Stats(perPrompt);
            byTask = new SortedDictionary<string, AccuracyStats>(StringComparer.Ordinal);
            top1ByTask = new SortedDictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
            foreach (var group in perPrompt.GroupBy(x => x.Task))
            {
                byTask[group.Key] = Stats(group.ToList());
                top1ByTask[group.Key] = top1Accuracy.Keys.ToDictionary(k => k, k => group.Sum(x => x.Credit[k]) / group.Count());
            }
        }
        string? loraSha = options.Lora is string lp && File.Exists(lp) ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(lp))) : null;
        var summary = new EvalSummary(prompts.Count, options.K, options.Seed, options.Lora, loraSha, means, top1Accuracy, overall, byTask, top1ByTask);

        var doc = new JsonObject
        {
            ["format"] = "finerewards-eval/1",
            ["options"] = JsonSerializer.SerializeToNode(options with { Generation = g, CombineSets = combineSets }, RunManifest.Json),
            ["generator"] = generator.Name,
            ["rewards"] = new JsonArray(rewards.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["version"] = r.Version }).ToArray()),
            ["ground_truth"] = truth?.Name,
            ["summary"] = JsonSerializer.SerializeToNode(summary, RunManifest.Json),
            ["prompts"] = promptDocs,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, FileName), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    internal static readonly JsonSerializerOptions EvidenceJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>A plain-text table of the summary (what the command prints and eval.md holds).</summary>
    public static string Format(EvalSummary s)
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine($"{s.Prompts} prompts x K={s.K}, seed {s.Seed}, LoRA {s.Lora ?? "none (base model)"}");
        w.AppendLine("| reward | mean score | top-1 accuracy |");
        w.AppendLine("| --- | --- | --- |");
        foreach (var (name, mean) in s.RewardMean)
            w.AppendLine($"| {name} | {mean.ToString("0.0000", CultureInfo.InvariantCulture)} | {(s.Top1Accuracy?.TryGetValue(name, out double t) == true ? t.ToString("P1", CultureInfo.InvariantCulture) : "-")} |");
        foreach (var (key, accuracy) in s.Top1Accuracy ?? new Dictionary<string, double>())
            if (key.Contains(':')) w.AppendLine($"| {key} | - | {accuracy.ToString("P1", CultureInfo.InvariantCulture)} |");
        if (s.Overall is { } o)
        {
            w.AppendLine();
            w.AppendLine("| task | prompts | accuracy (all candidates) | ARL top-1 | >=1 correct of K |");
            w.AppendLine("| --- | --- | --- | --- | --- |");
            foreach (var (task, a) in s.ByTask!) w.AppendLine(Row(task, a));
            w.AppendLine(Row("overall", o));
            if (s.Top1ByTask is { Count: > 0 } perTask)
            {
                // Which reward picks well where: position prompts need relations, counting prompts counts.
                var tasks = perTask.Keys.ToList();
                w.AppendLine();
                w.AppendLine($"| top-1 per task | {string.Join(" | ", tasks)} | overall |");
                w.AppendLine($"| --- |{string.Concat(tasks.Select(_ => " --- |"))} --- |");
                foreach (var (key, accuracy) in s.Top1Accuracy!)
                    w.AppendLine($"| {key} | {string.Join(" | ", tasks.Select(t => P(perTask[t][key])))} | {P(accuracy)} |");
            }
        }
        else w.AppendLine("(no ground truth for this pack: accuracy not measured)");
        return w.ToString();

        static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);

        static string Row(string name, AccuracyStats a) =>
            $"| {name} | {a.Prompts} | {a.Accuracy.ToString("P1", CultureInfo.InvariantCulture)} | {a.SelectedAccuracy.ToString("P1", CultureInfo.InvariantCulture)} | {a.AnyCorrect.ToString("P1", CultureInfo.InvariantCulture)} |";
    }
}
