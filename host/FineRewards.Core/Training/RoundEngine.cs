using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Ranking;

namespace FineRewards.Core.Training;

/// <summary>
/// Reward-ranked LoRA training rounds (RAFT with ARL). Round r: generate K candidates per prompt
/// with the LoRA of round r-1, score them under every reward, rank and select one per prompt,
/// keep the top fraction of prompts (RAFT's filter), train a LoRA from the base model on every
/// pair kept so far (rounds 1..r, plus extra data), save it as round r's checkpoint.
/// </summary>
/// <remarks>
/// Every step's output is a file written atomically, and a step whose file exists is not run again,
/// so a killed run resumes where it stopped: per prompt for generation and scoring, per round for
/// selection and training. Seeds come from <see cref="RunSeeds"/>, so the resumed run makes the
/// same selections and the same run.json as an uninterrupted one (given deterministic models).
/// </remarks>
public sealed class RoundEngine(IModelPack runtime, IRunProgress? progress = null)
{
    readonly IRunProgress progress = progress ?? NullRunProgress.Instance;

    sealed record Inputs(IReadOnlyList<string> Prompts, IReadOnlyList<ExtraPair> Extra, IImageGenerator Generator,
        ILoraTrainer Trainer, IReadOnlyList<IReward> Rewards, IGroundTruth? GroundTruth, GenerationSettings Generation);

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) the run in <paramref name="runDir"/>.</summary>
    /// <exception cref="InputException">Bad options or inputs, or a resume whose options differ from run.json.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; every finished step is on disk for --resume.</exception>
    public RunManifest Run(TrainingRunOptions options, string runDir, bool resume, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var layout = new RunLayout(runDir);
        var inputs = Prepare(options);
        var manifest = Begin(options, layout, inputs, resume);
        Log(layout, resume ? $"resuming at round {manifest.Rounds.Count + 1} of {options.Rounds}" : $"run started: {options.Rounds} rounds, {inputs.Prompts.Count} prompts, K={options.K}");

        if (manifest.Rounds.Count == 0) Previews(layout, options, inputs, 0, null, cancellationToken);
        for (int round = manifest.Rounds.Count + 1; round <= options.Rounds; round++)
        {
            var record = RunRound(layout, options, inputs, manifest, round, cancellationToken);
            manifest = manifest with { Rounds = [.. manifest.Rounds, record] };
            if (round == options.Rounds) manifest = manifest with { Status = RunManifest.Completed };
            AtomicFile.WriteAllText(layout.Manifest, manifest.ToJson());
            Log(layout, $"round {round} finished: kept {record.Kept}/{record.Prompts}, trained on {record.TrainingPairs} pairs for {record.TrainingSteps} steps, checkpoint {record.Checkpoint}");
            progress.RoundFinished(record);
        }
        if (manifest.Status != RunManifest.Completed)
        {
            manifest = manifest with { Status = RunManifest.Completed };
            AtomicFile.WriteAllText(layout.Manifest, manifest.ToJson());
        }
        Log(layout, "run completed");
        return manifest;
    }

    Inputs Prepare(TrainingRunOptions options)
    {
        if (runtime.Name != options.Pack) throw new InputException("--pack", $"runtime is for pack \"{runtime.Name}\", options name \"{options.Pack}\"");
        var prompts = PromptsFile.Read(options.PromptsFile, runtime.ValidatePrompt);
        var extra = options.ExtraData is null ? (IReadOnlyList<ExtraPair>)[] : ExtraDataFolder.Read(options.ExtraData);
        if (options.Objective == LoraObjectives.Dpo && extra.Count > 0 && extra.All(e => e.Rejected is null))
            throw new InputException("--extra-data", $"dpo learns preferences, and none of the {extra.Count} pairs in {options.ExtraData} names a rejected image "
                + $"(NAME.json's \"rejected\": \"NAME{ExtraDataFolder.RejectedSuffix}.png\")");
        if (options.Selection.IsOracle) runtime.RequireGroundTruth();
        return new Inputs(prompts, extra, runtime.RequireGenerator(), runtime.RequireTrainer(),
            runtime.CreateRewards(options.Rewards), runtime.GroundTruth, options.Generation ?? runtime.DefaultGeneration);
    }

    RunManifest Begin(TrainingRunOptions options, RunLayout layout, Inputs inputs, bool resume)
    {
        var fresh = new RunManifest(RunManifest.CurrentFormat, options with { Generation = inputs.Generation },
            Sha256(File.ReadAllBytes(options.PromptsFile)), inputs.Prompts.Count,
            inputs.Extra.Count == 0 ? null : Sha256(Encoding.UTF8.GetBytes(string.Join("\n", inputs.Extra.Select(e => $"{e.Name}\t{e.Sha256}\t{e.Prompt}")))),
            inputs.Extra.Count, inputs.Generator.Name, inputs.Rewards.Select(r => new RewardInfo(r.Name, r.Version)).ToList(),
            inputs.GroundTruth?.Name, [], RunManifest.Running);

        if (File.Exists(layout.Manifest))
        {
            if (!resume) throw new InputException("--out", $"{layout.Root} already holds a run ({RunManifest.FileName}); pass --resume to continue it, or choose a new folder");
            var stored = RunManifest.Load(layout.Manifest);
            CompareForResume(stored, fresh, layout.Manifest);
            return stored;
        }
        if (Directory.Exists(layout.Root) && Directory.EnumerateFileSystemEntries(layout.Root).Any() && !resume)
            throw new InputException("--out", $"{layout.Root} is not empty and holds no {RunManifest.FileName}; choose an empty or new folder");
        Directory.CreateDirectory(layout.Root);
        AtomicFile.WriteAllText(layout.Manifest, fresh.ToJson());
        return fresh;
    }

    /// <summary>A resumed run must be the same run: the first differing option or input is named.</summary>
    static void CompareForResume(RunManifest stored, RunManifest fresh, string path)
    {
        var a = JsonSerializer.SerializeToNode(stored with { Rounds = [], Status = "" }, RunManifest.Json)!.AsObject();
        var b = JsonSerializer.SerializeToNode(fresh with { Rounds = [], Status = "" }, RunManifest.Json)!.AsObject();
        foreach (var (key, value) in Flatten(a))
        {
            string now = Flatten(b).FirstOrDefault(p => p.Key == key).Value ?? "(absent)";
            if (now != value) throw new InputException("--resume", $"{key} is {value} in {path} but {now} now; resume with the run's own options and inputs, or start a new run");
        }
    }

    static IEnumerable<KeyValuePair<string, string>> Flatten(JsonNode? node, string prefix = "")
    {
        if (node is JsonObject o)
        {
            foreach (var (k, v) in o)
                foreach (var p in Flatten(v, prefix.Length == 0 ? k : $"{prefix}.{k}")) yield return p;
        }
        else yield return new(prefix, node?.ToJsonString() ?? "null");
    }

    RoundRecord RunRound(RunLayout layout, TrainingRunOptions options, Inputs inputs, RunManifest manifest, int round, CancellationToken ct)
    {
        string? loraIn = round == 1 ? null : manifest.Rounds[round - 2].Checkpoint;
        var loras = loraIn is null ? null : new[] { new LoraReference(layout.Full(loraIn), options.LoraScale) };
        var timings = new Dictionary<string, double>();
        int n = inputs.Prompts.Count;

        // Generate: K candidates per prompt, each prompt's PNGs and candidates.json written before the next.
        Phase(layout, round, RunPhase.Generate, n, timings, advance =>
        {
            for (int p = 0; p < n; p++)
            {
                if (!File.Exists(layout.Full(RunLayout.CandidatesFile(round, p))))
                    Generate(layout, options, inputs, round, p, loras, loraIn, ct);
                advance(p + 1);
            }
        });

        // Score and rank each prompt's candidates; scores.json keeps the evidence.
        Phase(layout, round, RunPhase.Score, n, timings, advance =>
        {
            for (int p = 0; p < n; p++)
            {
                if (!ScoredBy(layout.Full(RunLayout.ScoresFile(round, p)), options.Selection, RewardsJson(inputs)))
                    Score(layout, options, inputs, round, p, ct);
                advance(p + 1);
            }
        });

        // Select: the ranked best per prompt, then RAFT's filter across prompts.
        JsonObject selections = null!;
        Phase(layout, round, RunPhase.Select, n, timings, advance =>
        {
            selections = Select(layout, options, inputs, round);
            advance(n);
        });
        var selectionsBytes = File.ReadAllBytes(layout.Full(RunLayout.SelectionsFile(round)));

        // Train a LoRA from the base model on every pair kept in rounds 1..round, plus the extra data.
        var pairs = TrainingSet(layout, options, inputs, round);
        int steps = options.TrainingSteps(pairs.Count);
        long trainingSeed = RunSeeds.Training(options.Seed, round);
        double? finalLoss = null;
        string checkpointPath = null!;
        Phase(layout, round, RunPhase.Train, steps, timings, advance =>
        {
            var trainingProgress = new SyncProgress<TrainingProgress>(s =>
            {
                finalLoss = s.Loss;
                progress.TrainingStep(round, s);
                advance(s.Step);
            });
            var trainOptions = new LoraTrainingOptions(options.LoraRank, options.LoraAlpha, options.LearningRate, steps, options.BatchSize, trainingSeed,
                options.PromptDropout, options.LrSchedule, options.LoraTargets, options.MinTimestep, options.Objective, options.DpoBeta);
            string target = layout.Full(RunLayout.Checkpoint(round));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            checkpointPath = inputs.Trainer.Train(pairs, trainOptions, target, trainingProgress, ct);
            if (!File.Exists(checkpointPath) && !Directory.Exists(checkpointPath))
                throw new InvalidOperationException($"the LoRA trainer reported {checkpointPath} but wrote nothing there");
        });

        var lora = new[] { new LoraReference(checkpointPath, options.LoraScale) };
        Previews(layout, options, inputs, round, lora, ct, timings);

        var metrics = Metrics(layout, options, inputs, round, selections);
        WriteTimings(layout, round, timings);
        return new RoundRecord(round, loraIn, n, selections["prompts"]!.AsArray().Count(x => x!["kept"]!.GetValue<bool>()), pairs.Count, steps,
            trainingSeed, finalLoss, layout.Relative(checkpointPath), HashPath(checkpointPath), Sha256(selectionsBytes), metrics);
    }

    void Phase(RunLayout layout, int round, RunPhase phase, int total, Dictionary<string, double>? timings, Action<Action<int>> body)
    {
        var clock = Stopwatch.StartNew();
        progress.PhaseStarted(round, phase, total);
        body(done => progress.PhaseAdvanced(round, phase, done, total));
        progress.PhaseFinished(round, phase, clock.Elapsed);
        if (timings is not null) timings[phase.Key()] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        Log(layout, $"round {round} {phase.Key()}: {total} units in {clock.Elapsed.TotalSeconds:0.00} s");
    }

    void Generate(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round, int p, LoraReference[]? loras, string? loraIn, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        long baseSeed = RunSeeds.Candidates(options.Seed, round, p);
        var candidates = BestOfK.Generate(inputs.Generator, BestOfK.Request(inputs.Generation, inputs.Prompts[p], options.K, baseSeed, loras), cancellationToken: ct);
        var list = new JsonArray();
        foreach (var c in candidates)
        {
            string file = RunLayout.CandidateImage(round, p, c.Index);
            byte[] png = PngCodec.Encode(c.Image, [new("parameters", $"{inputs.Prompts[p]}\nSeed: {c.Seed}, Round: {round}, Lora: {loraIn ?? "none"}")]);
            AtomicFile.WriteAllBytes(layout.Full(file), png);
            var provenance = new JsonObject();
            foreach (var (k, v) in c.Provenance.OrderBy(kv => kv.Key, StringComparer.Ordinal)) provenance[k] = v;
            var entry = new JsonObject { ["index"] = c.Index, ["seed"] = c.Seed, ["image"] = Path.GetFileName(file), ["sha256"] = Sha256(png) };
            if (c.Latents is { } latents)
            {
                string latentFile = RunLayout.CandidateLatents(round, p, c.Index);
                entry["latents"] = Path.GetFileName(latentFile);
                entry["latents_sha256"] = LatentFile.Write(layout.Full(latentFile), latents);
            }
            entry["provenance"] = provenance;
            list.Add(entry);
        }
        var doc = new JsonObject
        {
            ["round"] = round, ["prompt_index"] = p, ["prompt"] = inputs.Prompts[p], ["base_seed"] = baseSeed,
            ["lora"] = loraIn, ["generator"] = inputs.Generator.Name, ["candidates"] = list,
        };
        // Written last: its presence says every PNG of this prompt is complete.
        AtomicFile.WriteAllText(layout.Full(RunLayout.CandidatesFile(round, p)), doc.ToJsonString(Indented));
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    static JsonSerializerOptions EvidenceJson => EvalRun.EvidenceJson;

    static RgbImage LoadImage(RunLayout layout, string relative) => PngCodec.Decode(File.ReadAllBytes(layout.Full(relative)), relative).Image;

    /// <summary>
    /// Scores, ranks and selects one prompt's candidates into scores.json. When a scores.json of the same
    /// rewards (names and versions) exists but another selection rule made it (candidates copied from a
    /// run with another --combine, as the experiments do to share the base model's round 1), its scores,
    /// evidence and ground truth are reused and only the selection is made again.
    /// </summary>
    void Score(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round, int p, CancellationToken ct)
    {
        string prompt = inputs.Prompts[p];
        var generated = JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.CandidatesFile(round, p))))!.AsObject();
        string path = layout.Full(RunLayout.ScoresFile(round, p));
        var previous = File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))!.AsObject() : null;
        var rewardsJson = RewardsJson(inputs);
        bool reuse = previous is not null && JsonNode.DeepEquals(previous["rewards"], rewardsJson)
            && previous["candidates"]!.AsArray().Count == options.K && (inputs.GroundTruth is null || previous["candidates"]![0]!["ground_truth"] is not null);
        var scoreValues = inputs.Rewards.ToDictionary(r => r.Name, _ => new double[options.K]);
        var evidenceNodes = inputs.Rewards.ToDictionary(r => r.Name, _ => new JsonNode?[options.K]);
        List<GroundTruthVerdict>? verdicts = null;
        if (reuse)
        {
            var old = previous!["candidates"]!.AsArray();
            foreach (var r in inputs.Rewards)
                for (int i = 0; i < options.K; i++)
                {
                    scoreValues[r.Name][i] = old[i]!["scores"]![r.Name]!.GetValue<double>();
                    evidenceNodes[r.Name][i] = old[i]!["evidence"]![r.Name]?.DeepClone();
                }
            if (inputs.GroundTruth is not null)
                verdicts = old.Select(c => c!["ground_truth"]!).Select(t => new GroundTruthVerdict(t["task"]!.GetValue<string>(), t["correct"]!.GetValue<bool>(),
                    t["reasons"]!.AsArray().Select(x => x!.GetValue<string>()).ToList())).ToList();
        }
        else
        {
            var images = Enumerable.Range(0, options.K).Select(i => LoadImage(layout, RunLayout.CandidateImage(round, p, i))).ToList();
            var scored = BestOfK.Score(BestOfK.Named(inputs.Rewards), prompt, images.Select((image, i) => (Id(i), image, (GeneratedCandidate?)null)).ToList(),
                cancellationToken: ct);
            foreach (var reward in inputs.Rewards)
                for (int i = 0; i < options.K; i++)
                {
                    var s = scored[i].Scores[reward.Name];
                    scoreValues[reward.Name][i] = s.Score;
                    evidenceNodes[reward.Name][i] = JsonSerializer.SerializeToNode(s.Evidence, EvidenceJson);
                }
            if (inputs.GroundTruth is { } groundTruth) verdicts = images.Select(image => groundTruth.Evaluate(prompt, image)).ToList();
        }
        ct.ThrowIfCancellationRequested();

        var candidateScores = Enumerable.Range(0, options.K)
            .Select(i => new CandidateScores(Id(i), inputs.Rewards.ToDictionary(r => r.Name, r => scoreValues[r.Name][i]))).ToList();
        var selection = options.Selection;
        int selected;
        bool excluded = false;
        JsonNode? ranking = null;
        if (selection.IsOracle)
        {
            // The ARL order decides among the correct candidates (and when none is correct, which image the record shows).
            var result = CandidateRanker.Rank(candidateScores, selection.Combine!, null, $"rounds[{round}].prompts[{p}].candidates");
            var order = result.Order.Select(id => int.Parse(id, CultureInfo.InvariantCulture)).ToList();
            int firstCorrect = order.FindIndex(i => verdicts![i].Correct);
            excluded = firstCorrect < 0;
            selected = excluded ? order[0] : order[firstCorrect];
            ranking = RankingJson.ToJson(result);
        }
        else if (selection.IsRandom)
            selected = new Random(unchecked((int)RunSeeds.Selection(options.Seed, round, p))).Next(options.K);
        else
        {
            var result = CandidateRanker.Rank(candidateScores, selection.Combine!, null, $"rounds[{round}].prompts[{p}].candidates");
            selected = int.Parse(result.Selected, CultureInfo.InvariantCulture);
            ranking = RankingJson.ToJson(result);
        }

        var candidates = new JsonArray();
        for (int i = 0; i < options.K; i++)
        {
            var scoreObj = new JsonObject();
            var evidence = new JsonObject();
            foreach (var r in inputs.Rewards)
            {
                scoreObj[r.Name] = scoreValues[r.Name][i];
                evidence[r.Name] = evidenceNodes[r.Name][i];
            }
            var c = new JsonObject
            {
                ["index"] = i, ["seed"] = generated["candidates"]![i]!["seed"]!.GetValue<long>(), ["image"] = $"c{i}.png",
                ["scores"] = scoreObj, ["evidence"] = evidence,
            };
            if (verdicts is not null)
            {
                var verdict = verdicts[i];
                c["ground_truth"] = new JsonObject
                {
                    ["task"] = verdict.Task, ["correct"] = verdict.Correct,
                    ["reasons"] = new JsonArray(verdict.Reasons.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray()),
                };
            }
            candidates.Add(c);
        }
        var doc = new JsonObject
        {
            ["round"] = round, ["prompt_index"] = p, ["prompt"] = prompt, ["method"] = selection.ToString(),
            ["rewards"] = rewardsJson,
            ["candidates"] = candidates, ["ranking"] = ranking, ["selected"] = selected,
            ["filter_score"] = FilterScore(selection, inputs.Rewards, candidateScores[selected]),
        };
        if (selection.IsOracle) doc["oracle_excluded"] = excluded;
        AtomicFile.WriteAllText(layout.Full(RunLayout.ScoresFile(round, p)), doc.ToJsonString(Indented));
    }

    // The rewards count as much as the rule: candidates copied from a run with other rewards must be scored again.
    static bool ScoredBy(string scoresFile, SelectionRule selection, JsonArray rewards)
    {
        if (!File.Exists(scoresFile)) return false;
        var doc = JsonNode.Parse(File.ReadAllText(scoresFile));
        return doc?["method"]?.GetValue<string>() == selection.ToString() && JsonNode.DeepEquals(doc["rewards"], rewards);
    }

    static JsonArray RewardsJson(Inputs inputs) =>
        new(inputs.Rewards.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["version"] = r.Version }).ToArray());

    /// <summary>
    /// What RAFT's filter compares across prompts: the selected image's raw score under the one
    /// reward of single:NAME, otherwise the sum of its raw scores (ranks do not compare across prompts).
    /// </summary>
    static double FilterScore(SelectionRule selection, IReadOnlyList<IReward> rewards, CandidateScores selected) =>
        selection.Combine?.Reward is string single ? selected.Scores[single] : rewards.Sum(r => selected.Scores[r.Name]);

    JsonObject Select(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round)
    {
        int n = inputs.Prompts.Count;
        var entries = Enumerable.Range(0, n).Select(p =>
        {
            var doc = JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.ScoresFile(round, p))))!;
            return (Prompt: p, Selected: doc["selected"]!.GetValue<int>(), Score: doc["filter_score"]!.GetValue<double>(),
                Excluded: doc["oracle_excluded"]?.GetValue<bool>() ?? false);
        }).ToList();
        int keep = Math.Max(1, (int)Math.Ceiling(options.FilterTop * n - 1e-9));
        var kept = entries.Where(e => !e.Excluded).OrderByDescending(e => e.Score).ThenBy(e => e.Prompt).Take(keep).Select(e => e.Prompt).ToHashSet();
        var prompts = new JsonArray();
        foreach (var e in entries)
            prompts.Add(new JsonObject
            {
                ["prompt_index"] = e.Prompt, ["prompt"] = inputs.Prompts[e.Prompt], ["selected"] = e.Selected,
                ["image"] = RunLayout.CandidateImage(round, e.Prompt, e.Selected).Replace('\\', '/'),
                ["filter_score"] = e.Score, ["kept"] = kept.Contains(e.Prompt),
            });
        var selections = new JsonObject
        {
            ["round"] = round, ["method"] = options.Selection.ToString(), ["filter_top"] = options.FilterTop, ["kept"] = kept.Count, ["prompts"] = prompts,
        };
        AtomicFile.WriteAllText(layout.Full(RunLayout.SelectionsFile(round)), selections.ToJsonString(Indented));
        return selections;
    }

    /// <summary>
    /// Every kept pair of rounds 1..round in round then prompt order, then the extra pairs. A selected
    /// candidate brings the latents it was decoded from (checked against candidates.json's SHA-256)
    /// unless the run trains on images (<see cref="TrainingRunOptions.TrainOn"/>).
    /// </summary>
    static List<TrainingPair> TrainingSet(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round)
    {
        var pairs = new List<TrainingPair>();
        for (int r = 1; r <= round; r++)
        {
            var doc = JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.SelectionsFile(r))))!;
            foreach (var e in doc["prompts"]!.AsArray())
            {
                if (!e!["kept"]!.GetValue<bool>()) continue;
                int p = e["prompt_index"]!.GetValue<int>(), c = e["selected"]!.GetValue<int>();
                string prompt = e["prompt"]!.GetValue<string>();
                // Read once per prompt: a preference pair needs two of its candidates.
                var candidates = options.TrainOn == TrainingRunOptions.TrainOnLatents
                    ? JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.CandidatesFile(r, p))))!["candidates"]!.AsArray() : null;
                TrainingImage Candidate(int i)
                {
                    var candidate = candidates?[i]!;
                    var latents = candidate?["latents"] is null ? null
                        : LatentFile.Read(layout.Full(RunLayout.CandidateLatents(r, p, i)), candidate["latents_sha256"]!.GetValue<string>());
                    return new TrainingImage(LoadImage(layout, RunLayout.CandidateImage(r, p, i)), latents);
                }
                if (options.Objective != LoraObjectives.Dpo)
                {
                    var kept = Candidate(c);
                    pairs.Add(new TrainingPair(prompt, kept.Image, kept.Latents));
                    continue;
                }
                // A prompt with nothing ranked below its pick has no preference to learn.
                foreach (var (winner, loser) in PreferencePairs(layout, options, r, p, c))
                {
                    var kept = Candidate(winner);
                    pairs.Add(new TrainingPair(prompt, kept.Image, kept.Latents, Candidate(loser)));
                }
            }
        }
        // The preference objective learns only the extra pairs that name a rejected image (checked when the folder is read).
        bool preference = options.Objective == LoraObjectives.Dpo;
        pairs.AddRange(inputs.Extra.Where(e => !preference || e.Rejected is not null)
            .Select(e => options.TrainOn == TrainingRunOptions.TrainOnLatents ? e.ToTrainingPair(preference)
                : new TrainingPair(e.Prompt, e.Image, Rejected: preference ? e.Rejected! with { Latents = null } : null)));
        return pairs;
    }

    /// <summary>
    /// The preference objective's (kept, rejected) pairs of prompt p, at most <see cref="TrainingRunOptions.DpoPairs"/>: the
    /// pick against the last of the ranking's order, then the second against the second-last, and so on while the winner
    /// ranks above the loser. Under the oracle rule the winners are the candidates the ground truth finds right (the pick
    /// first, then in ranking order) and the losers those it finds wrong, from the last. The random baseline has no
    /// ranking: its order is its pick, then the other candidates in a seeded random order (<see cref="RunSeeds.Rejection"/>),
    /// so it prefers one random candidate to another. Empty when nothing qualifies.
    /// </summary>
    static List<(int Winner, int Loser)> PreferencePairs(RunLayout layout, TrainingRunOptions options, int round, int p, int selected)
    {
        var scores = JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.ScoresFile(round, p))))!;
        var order = options.Selection.IsRandom ? RandomOrder(options, round, p, selected)
            : scores["ranking"]!["order"]!.AsArray().Select(id => int.Parse(id!.GetValue<string>(), CultureInfo.InvariantCulture)).ToList();
        var candidates = scores["candidates"]!.AsArray();
        bool? Correct(int i) => candidates[i]!["ground_truth"]?["correct"]?.GetValue<bool>();
        var winners = new List<int> { selected };
        var losers = new List<int>();
        if (options.Selection.IsOracle)
        {
            winners.AddRange(order.Where(i => i != selected && Correct(i) == true));
            losers.AddRange(order.Where(i => Correct(i) == false).Reverse());
        }
        else
        {
            winners.AddRange(order.Where(i => i != selected));
            losers.AddRange(Enumerable.Reverse(order).Where(i => i != selected));
        }
        var pairs = new List<(int, int)>();
        for (int k = 0; k < Math.Min(options.DpoPairs, Math.Min(winners.Count, losers.Count)); k++)
        {
            if (!options.Selection.IsOracle && order.IndexOf(winners[k]) >= order.IndexOf(losers[k])) break;
            pairs.Add((winners[k], losers[k]));
        }
        return pairs;
    }

    static List<int> RandomOrder(TrainingRunOptions options, int round, int p, int selected)
    {
        var others = Enumerable.Range(0, options.K).Where(i => i != selected).ToArray();
        new Random(unchecked((int)RunSeeds.Rejection(options.Seed, round, p))).Shuffle(others);
        return [selected, .. others];
    }

    void Previews(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round, LoraReference[]? loras, CancellationToken ct,
        Dictionary<string, double>? timings = null)
    {
        int count = Math.Min(options.Previews, inputs.Prompts.Count);
        if (count == 0) return;
        Phase(layout, round, RunPhase.Preview, count, timings, advance =>
        {
            for (int p = 0; p < count; p++)
            {
                string file = layout.Full(RunLayout.Preview(round, p));
                if (!File.Exists(file))
                {
                    ct.ThrowIfCancellationRequested();
                    long seed = RunSeeds.Preview(options.Seed, p);
                    var image = inputs.Generator.Generate(BestOfK.Request(inputs.Generation, inputs.Prompts[p], 1, seed, loras), null, ct).Single().Image;
                    ct.ThrowIfCancellationRequested();
                    AtomicFile.WriteAllBytes(file, PngCodec.Encode(image, [new("parameters", $"{inputs.Prompts[p]}\nSeed: {seed}, Preview after round: {round}")]));
                }
                advance(p + 1);
            }
        });
    }

    static RoundMetrics Metrics(RunLayout layout, TrainingRunOptions options, Inputs inputs, int round, JsonObject selections)
    {
        var docs = Enumerable.Range(0, inputs.Prompts.Count)
            .Select(p => JsonNode.Parse(File.ReadAllText(layout.Full(RunLayout.ScoresFile(round, p))))!).ToList();
        var mean = new Dictionary<string, double>();
        var selectedMean = new Dictionary<string, double>();
        foreach (var r in inputs.Rewards)
        {
            mean[r.Name] = docs.SelectMany(d => d["candidates"]!.AsArray()).Average(c => c!["scores"]![r.Name]!.GetValue<double>());
            selectedMean[r.Name] = docs.Average(d => d["candidates"]![d["selected"]!.GetValue<int>()]!["scores"]![r.Name]!.GetValue<double>());
        }
        if (inputs.GroundTruth is null) return new RoundMetrics(mean, selectedMean, null, null);

        var perPrompt = docs.Select(d =>
        {
            var truth = d["candidates"]!.AsArray().Select(c => c!["ground_truth"]!).ToList();
            bool[] correct = truth.Select(t => t["correct"]!.GetValue<bool>()).ToArray();
            return (Task: truth[0]["task"]!.GetValue<string>(), Correct: correct, Selected: correct[d["selected"]!.GetValue<int>()]);
        }).ToList();
        static AccuracyStats Stats(IReadOnlyCollection<(string Task, bool[] Correct, bool Selected)> group) => new(
            group.Count,
            group.Sum(g => g.Correct.Count(c => c)) / (double)group.Sum(g => g.Correct.Length),
            group.Count(g => g.Selected) / (double)group.Count,
            group.Count(g => g.Correct.Any(c => c)) / (double)group.Count);
        var byTask = new SortedDictionary<string, AccuracyStats>(StringComparer.Ordinal);
        foreach (var g in perPrompt.GroupBy(x => x.Task)) byTask[g.Key] = Stats(g.ToList());
        return new RoundMetrics(mean, selectedMean, Stats(perPrompt), byTask);
    }

    static void WriteTimings(RunLayout layout, int round, Dictionary<string, double> timings)
    {
        JsonObject doc = File.Exists(layout.Timings) ? JsonNode.Parse(File.ReadAllText(layout.Timings))!.AsObject() : new JsonObject();
        var t = new JsonObject();
        foreach (var (k, v) in timings) t[k] = v;
        doc[$"round{round:00}"] = t;
        AtomicFile.WriteAllText(layout.Timings, doc.ToJsonString(Indented));
    }

    static void Log(RunLayout layout, string line)
    {
        Directory.CreateDirectory(layout.Root);
        File.AppendAllText(layout.Log, $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {line}\n");
    }

    static string Id(int index) => index.ToString(CultureInfo.InvariantCulture);

    static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The checkpoint's SHA-256: of the file, or of "relative-path\tsha256\n" lines for a folder.</summary>
    static string HashPath(string path)
    {
        if (File.Exists(path)) return Sha256(File.ReadAllBytes(path));
        var lines = Directory.GetFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(path, f).Replace('\\', '/')}\t{Sha256(File.ReadAllBytes(f))}\n");
        return Sha256(Encoding.UTF8.GetBytes(string.Concat(lines)));
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and reorder).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
