using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using FineRewards.Diffusion.Training;
using FineRewards.Shapes.Evaluation;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>Sizes of a diffusion training run; the defaults are the shipped pack's.</summary>
/// <param name="DatasetSize">Rendered training images (prompt, scene) whose latents are cached in memory.</param>
/// <param name="EvalPrompts">Test-split prompts evaluated at the end (null = all 112).</param>
public sealed record DiffusionTrainOptions(
    int DatasetSize = 8192,
    int BatchSize = 32,
    double LearningRate = 8e-4,
    int WarmupSteps = 200,
    double EmaDecay = 0.999,
    double PromptDropout = 0.1,
    double CheckpointMinutes = 4,
    int EvalK = 4,
    int EvalSteps = 20,
    double EvalGuidance = 4.0,
    int? EvalPrompts = null);

/// <summary>
/// Trains the pack's text encoder and UNet together from scratch through <see cref="DiffusionObjective"/>
/// (v-prediction) on latents of rendered train-split scenes, encoded once by the frozen VAE. 10% of
/// prompts are replaced by the empty prompt so the model also learns the unconditional prediction
/// that classifier-free guidance needs. AdamW, EMA of the weights (exported), fp16 export to a
/// diffusers folder (diffusion/), then the ground-truth evaluator on the test split with the exported weights.
/// </summary>
public sealed class DiffusionTrainer(DiffusionTrainOptions? options = null) : IPackComponentTrainer
{
    public const string Name = "diffusion";
    public const string Folder = "diffusion";
    readonly DiffusionTrainOptions o = options ?? new DiffusionTrainOptions();

    /// <summary>Task mix of the training data: position and two-object prompts are the hardest (spec), single the easiest.</summary>
    static readonly (PromptTask Task, double Weight)[] TaskMix =
        [(PromptTask.Single, 0.15), (PromptTask.TwoObjects, 0.25), (PromptTask.Counting, 0.25), (PromptTask.Position, 0.35)];

    public string Component => Name;
    public string Description => "text encoder + UNet2DConditionModel (v-prediction, CFG) on the VAE's 16x16x4 latents; exports the diffusers folder diffusion/";
    public IReadOnlyList<string> DependsOn => [VaeTrainer.Name];

    public PackComponent Train(PackTrainContext context)
    {
        var clock = Stopwatch.StartNew();
        string packDiffusion = Path.Combine(context.PackFolder, Folder);
        string vaeFolder = Path.Combine(context.PackFolder, VaeTrainer.Folder);
        if (!File.Exists(Path.Combine(vaeFolder, "config.json")))
            throw new InputException("--component", $"diffusion needs the trained VAE in {vaeFolder}; train --component vae first");
        torch.manual_seed(context.DataSeed);

        // Tokenizer files are a pure function of the grammar, so they are (re)written before training.
        string tokenizerFolder = Path.Combine(packDiffusion, "tokenizer");
        WriteTokenizer(tokenizerFolder);
        var tokenizer = ClipTokenizer.FromPretrained(tokenizerFolder);
        var textConfig = ShapesDiffusionConfig.TextEncoder(tokenizer.Vocabulary.Count, tokenizer.BosId, tokenizer.EosId);
        var unetConfig = ShapesDiffusionConfig.UNet(textConfig.HiddenSize);
        var schedulerConfig = ShapesDiffusionConfig.Scheduler();
        var objective = new DiffusionObjective(schedulerConfig);

        // --resume --steps 0 only exports and evaluates the checkpoint: no data is needed.
        bool exportOnly = context.Resume && context.Steps == 0;
        using var vae = AutoencoderKL.FromDiffusersFolder(vaeFolder);
        var (latents, ids, emptyIds) = exportOnly ? (zeros(1, 4, 16, 16), zeros(1, 1, ScalarType.Int64), zeros(1, 1, ScalarType.Int64))
            : BuildDataset(vae, tokenizer, context);   // [N, 4, 16, 16], [N, L], [1, L]

        using var unet = new UNet2DConditionModel(unetConfig);
        using var text = new ClipTextModel(textConfig);
        InitTextEncoder(text);
        using var emaUnet = new UNet2DConditionModel(unetConfig);
        using var emaText = new ClipTextModel(textConfig);
        var parameters = unet.parameters().Concat(text.parameters()).ToList();
        var emaParameters = emaUnet.parameters().Concat(emaText.parameters()).ToList();
        CopyInto(emaParameters, parameters);
        using var optimizer = optim.AdamW(parameters, o.LearningRate, weight_decay: 0.01);
        var modules = new Dictionary<string, nn.Module> { ["unet"] = unet, ["text_encoder"] = text, ["ema_unet"] = emaUnet, ["ema_text_encoder"] = emaText };

        string checkpoint = context.WorkFolder;
        long step = 0;
        double priorMinutes = 0;
        IReadOnlyList<string> commands = [context.CommandLine];
        if (context.Resume)
        {
            var state = TrainCheckpoint.Load(checkpoint, modules, optimizer);
            (step, priorMinutes, commands) = (state.Step, state.Minutes, state.WithCommand(context.CommandLine));
            context.Progress($"diffusion: resumed at step {step} ({priorMinutes:0.0} min before)");
        }
        long parameterCount = unet.parameters().Sum(p => p.numel()) + text.parameters().Sum(p => p.numel());
        context.Progress($"diffusion: {parameterCount:N0} parameters (UNet + text encoder), {latents.shape[0]} cached latents, batch {o.BatchSize}");

        unet.train();
        text.train();
        // Resumed runs draw fresh batches (seed mixed with the step) rather than replaying the first run's.
        var generator = new Generator((ulong)(context.DataSeed * 1_000_003 + step));
        double lastLoss = context.Resume && TrainCheckpoint.Exists(checkpoint) ? LastLoss(checkpoint) : double.NaN, lossSum = 0;
        int lossCount = 0;
        long stepsThisRun = 0;
        var sinceSave = Stopwatch.StartNew();
        var sinceReport = Stopwatch.StartNew();
        while (!context.BudgetSpent(clock, stepsThisRun))
        {
            using var scope = NewDisposeScope();
            var index = randint(0, latents.shape[0], [o.BatchSize], dtype: ScalarType.Int64, generator: generator);   // [B]
            var x0 = latents.index_select(0, index);                                                                   // [B, 4, 16, 16]
            var tokens = ids.index_select(0, index);                                                                   // [B, L]
            var drop = (rand([o.BatchSize], generator: generator) < o.PromptDropout).unsqueeze(1);                     // [B, 1]
            tokens = where(drop, emptyIds.expand(o.BatchSize, -1), tokens);
            var cond = text.forward(tokens).LastHiddenState;                                                           // [B, L, D]
            var loss = objective.Loss((xt, t, c) => unet.forward(xt, t, c), x0, cond, generator);
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, 1.0);
            double lr = o.LearningRate * Math.Min(1.0, (step + 1.0) / o.WarmupSteps);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            optimizer.step();
            step++;
            stepsThisRun++;
            // EMA with the usual warm-up so early weights do not dominate: decay = min(d, (1+n)/(10+n)).
            double decay = Math.Min(o.EmaDecay, (1.0 + step) / (10.0 + step));
            using (no_grad())
                for (int i = 0; i < parameters.Count; i++)
                    emaParameters[i].mul_(decay).add_(parameters[i].detach(), alpha: 1 - decay);

            lastLoss = loss.item<float>();
            if (!double.IsFinite(lastLoss)) throw new InvalidOperationException($"diffusion: loss became {lastLoss} at step {step}");
            lossSum += lastLoss; lossCount++;
            if (sinceReport.Elapsed.TotalSeconds >= 60 || stepsThisRun == 1)
            {
                double minutes = priorMinutes + clock.Elapsed.TotalMinutes;
                context.Progress($"diffusion: step {step} loss {lossSum / lossCount:0.00000} lr {lr:0.0e0} ({minutes:0.0} min, {stepsThisRun * o.BatchSize / clock.Elapsed.TotalSeconds:0.0} samples/s)");
                lossSum = 0; lossCount = 0;
                sinceReport.Restart();
            }
            if (sinceSave.Elapsed.TotalMinutes >= o.CheckpointMinutes)
            {
                TrainCheckpoint.Save(checkpoint, new TrainState(step, priorMinutes + clock.Elapsed.TotalMinutes, context.DataSeed, lastLoss, commands), modules, optimizer);
                context.Progress($"diffusion: checkpoint at step {step} in {checkpoint}");
                sinceSave.Restart();
            }
        }
        double trainMinutes = priorMinutes + (exportOnly ? 0 : clock.Elapsed.TotalMinutes);
        if (!exportOnly) TrainCheckpoint.Save(checkpoint, new TrainState(step, trainMinutes, context.DataSeed, lastLoss, commands), modules, optimizer);
        latents.Dispose(); ids.Dispose(); emptyIds.Dispose();

        Export(packDiffusion, emaUnet, emaText, unetConfig, textConfig, schedulerConfig);
        context.Progress($"diffusion: exported EMA weights (fp16) to {packDiffusion}; evaluating on the test split");
        var (report, evalFolder) = Evaluate(packDiffusion, Path.Combine(context.WorkFolder, "eval"), context.DataSeed, context.Progress);
        context.Progress($"diffusion: test split, K={o.EvalK}, {o.EvalSteps} DDIM steps, guidance {o.EvalGuidance} (images in {evalFolder}):\n{report.FormatTable()}");

        var metrics = new Dictionary<string, double>
        {
            ["loss"] = Math.Round(lastLoss, 6),
            ["parameters"] = parameterCount,
        };
        foreach (var (k, v) in EvalMetrics(report)) metrics[k] = v;
        var config = new JsonObject
        {
            ["unet"] = StableDiffusionFolderWriter.ConfigNode(unetConfig),
            ["text_encoder"] = StableDiffusionFolderWriter.ConfigNode(textConfig),
            ["scheduler"] = StableDiffusionFolderWriter.ConfigNode(schedulerConfig),
            ["batch_size"] = o.BatchSize,
            ["learning_rate"] = o.LearningRate,
            ["ema_decay"] = o.EmaDecay,
            ["prompt_dropout"] = o.PromptDropout,
            ["dataset_size"] = o.DatasetSize,
        };
        var component = new PackComponent("diffusers", Folder, JsonSerializer.SerializeToElement(config),
            new PackTraining(string.Join(" ; then ", commands), context.DataSeed, step, Math.Round(trainMinutes, 2), DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), metrics));
        PackManifest.UpdateComponent(context.PackFolder, ShapesPackInfo.Name, Name, component, ShapesPackInfo.Description);
        return component;
    }

    /// <summary>The evaluator's numbers as pack.json records them: accuracy and any-correct-of-K per task and overall, and the sampling settings.</summary>
    public IReadOnlyDictionary<string, double> EvalMetrics(ShapesReport report)
    {
        var metrics = new Dictionary<string, double>
        {
            ["accuracy_overall"] = Math.Round(report.Overall, 4),
            ["any_correct_of_k_overall"] = Math.Round(report.AnyCorrect, 4),
            ["eval_k"] = o.EvalK,
            ["eval_steps"] = o.EvalSteps,
            ["eval_guidance"] = o.EvalGuidance,
            ["eval_images"] = report.Images,
        };
        foreach (var t in report.Tasks.Where(t => t.Images > 0))
        {
            metrics[$"accuracy_{t.Task.Key()}"] = Math.Round(t.Accuracy, 4);
            metrics[$"any_correct_of_k_{t.Task.Key()}"] = Math.Round(t.AnyCorrect, 4);
        }
        return metrics;
    }

    /// <summary>
    /// Measures the shipped diffusers folder again (e.g. with other sampling settings) and replaces the
    /// evaluation numbers of the diffusion component in pack.json; the training record is kept.
    /// </summary>
    public (ShapesReport Report, PackComponent Component) Reevaluate(string packFolder, string evalFolder, long seed, Action<string>? progress = null)
    {
        var manifest = PackManifest.Load(Path.Combine(packFolder, PackManifest.FileName));
        if (manifest.Components?.GetValueOrDefault(Name) is not { Training: { } training } component)
            throw new InputException(Path.Combine(packFolder, PackManifest.FileName), $"has no trained \"{Name}\" component; run `finerewards pack train shapes --component {Name}` first");
        var (report, _) = Evaluate(Path.Combine(packFolder, Folder), evalFolder, seed, progress);
        var metrics = new Dictionary<string, double>(training.Metrics ?? new Dictionary<string, double>());
        foreach (var key in metrics.Keys.Where(k => k.StartsWith("accuracy_") || k.StartsWith("any_correct_of_k_") || k.StartsWith("eval_") || k.StartsWith(Reencoded)).ToList()) metrics.Remove(key);
        foreach (var (k, v) in EvalMetrics(report)) metrics[k] = v;
        // What a LoRA round trains on when it re-encodes a selected PNG: the same images through the pack's VAE once more.
        using (var vae = AutoencoderKL.FromDiffusersFolder(Path.Combine(packFolder, VaeTrainer.Folder)))
        {
            var (reencoded, correctKept) = VaeRoundTrip.MeasureImages(vae, report, evalFolder);
            progress?.Invoke($"diffusion: the same images re-encoded and decoded by the pack's VAE ({Math.Round(correctKept * 100, 1)}% of the correct ones stay correct):\n{reencoded.FormatTable()}");
            metrics[Reencoded + "accuracy_overall"] = Math.Round(reencoded.Overall, 4);
            foreach (var t in reencoded.Tasks.Where(t => t.Images > 0)) metrics[$"{Reencoded}accuracy_{t.Task.Key()}"] = Math.Round(t.Accuracy, 4);
            if (double.IsFinite(correctKept)) metrics[Reencoded + "correct_kept"] = Math.Round(correctKept, 4);
        }
        var updated = component with { Training = training with { Metrics = metrics } };
        PackManifest.UpdateComponent(packFolder, ShapesPackInfo.Name, Name, updated, ShapesPackInfo.Description);
        return (report, updated);
    }

    /// <summary>Prefix of the metrics of the evaluation images after one more VAE round trip (pack eval only).</summary>
    const string Reencoded = "reencoded_";

    static double LastLoss(string checkpoint) =>
        JsonSerializer.Deserialize<TrainState>(File.ReadAllText(Path.Combine(checkpoint, "state.json")), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals })?.LastLoss ?? double.NaN;


    /// <summary>
    /// Renders <see cref="DiffusionTrainOptions.DatasetSize"/> seeded (prompt, scene) pairs from the train
    /// split and encodes them once with the frozen VAE (posterior mean · scaling factor).
    /// </summary>
    (Tensor Latents, Tensor Ids, Tensor EmptyIds) BuildDataset(AutoencoderKL vae, ClipTokenizer tokenizer, PackTrainContext context)
    {
        var random = new Random(unchecked((int)context.DataSeed));
        var byTask = TaskMix.ToDictionary(m => m.Task, m => PromptCatalog.Split(m.Task, PromptSplit.Train));
        double total = TaskMix.Sum(m => m.Weight);
        var prompts = new List<string>(o.DatasetSize);
        var latentChunks = new List<Tensor>();
        const int chunk = 128;
        var sinceReport = Stopwatch.StartNew();
        for (int start = 0; start < o.DatasetSize; start += chunk)
        {
            var renders = new List<RgbImage>();
            for (int i = start; i < Math.Min(o.DatasetSize, start + chunk); i++)
            {
                double u = random.NextDouble() * total;
                var task = TaskMix.First(m => (u -= m.Weight) < 0 || m.Task == TaskMix[^1].Task).Task;
                var list = byTask[task];
                var prompt = list[random.Next(list.Count)];
                prompts.Add(prompt.Text);
                renders.Add(SceneRenderer.Render(SceneSampler.Sample(prompt, random)));
            }
            using (no_grad())
            using (var scope = NewDisposeScope())
                latentChunks.Add((vae.Encode(ImageTensors.FromRgbImages(renders)).Mean * vae.ScalingFactor).MoveToOuterDisposeScope());
            if (sinceReport.Elapsed.TotalSeconds >= 30)
            {
                context.Progress($"diffusion: encoded {prompts.Count}/{o.DatasetSize} training renders");
                sinceReport.Restart();
            }
        }
        var latents = cat(latentChunks, 0);
        foreach (var t in latentChunks) t.Dispose();
        var ids = tokenizer.EncodeBatch(prompts, ShapesDiffusionConfig.MaxTokens);
        var empty = tokenizer.EncodeBatch([""], ShapesDiffusionConfig.MaxTokens);
        return (latents, ids, empty);
    }

    /// <summary>CLIP's initialisation scale for the small text encoder (TorchSharp's default Embedding init is N(0, 1)).</summary>
    static void InitTextEncoder(ClipTextModel text)
    {
        using var _ = no_grad();
        foreach (var (name, p) in text.named_parameters())
            if (name.EndsWith("token_embedding.weight") || name.EndsWith("position_embedding.weight"))
                p.normal_(0, 0.02);
    }

    static void CopyInto(IReadOnlyList<TorchSharp.Modules.Parameter> target, IReadOnlyList<TorchSharp.Modules.Parameter> source)
    {
        using var _ = no_grad();
        for (int i = 0; i < target.Count; i++) target[i].copy_(source[i]);
    }

    public static void WriteTokenizer(string folder)
    {
        ShapesDiffusionConfig.WriteTokenizerFiles(folder);
        const string eot = ClipTokenizer.EndOfText;
        var special = new JsonObject
        {
            ["bos_token"] = ClipTokenizer.StartOfText,
            ["eos_token"] = eot,
            ["pad_token"] = eot,
            ["unk_token"] = eot,
        };
        StableDiffusionFolderWriter.WriteJson(Path.Combine(folder, "special_tokens_map.json"), special);
        var config = (JsonObject)special.DeepClone();
        config["add_prefix_space"] = false;
        config["do_lower_case"] = true;
        config["errors"] = "replace";
        config["model_max_length"] = ShapesDiffusionConfig.MaxTokens;
        config["tokenizer_class"] = "CLIPTokenizer";
        StableDiffusionFolderWriter.WriteJson(Path.Combine(folder, "tokenizer_config.json"), config);
    }

    /// <summary>The diffusers folder: model_index.json, unet/, text_encoder/, scheduler/ (tokenizer/ and vae/ are written by then), fp16 weights.</summary>
    public static void Export(string folder, UNet2DConditionModel unet, ClipTextModel text, UNet2DConditionConfig unetConfig, ClipTextConfig textConfig, SchedulerConfig schedulerConfig)
    {
        var version = new Dictionary<string, JsonNode?> { ["_diffusers_version"] = StableDiffusionFolderWriter.DiffusersVersion };
        StableDiffusionFolderWriter.WriteComponent(Path.Combine(folder, "unet"), StableDiffusionFolderWriter.ConfigNode(unetConfig, version), unet, "diffusion_pytorch_model.safetensors", half: true);
        StableDiffusionFolderWriter.WriteComponent(Path.Combine(folder, "text_encoder"), StableDiffusionFolderWriter.TextEncoderConfig(textConfig, new Dictionary<string, JsonNode?>
        {
            ["torch_dtype"] = "float16",
            ["projection_dim"] = textConfig.HiddenSize,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = 0.02,
            ["initializer_factor"] = 1.0,
        }), text, "model.safetensors", half: true);
        StableDiffusionFolderWriter.WriteScheduler(folder, schedulerConfig);
        StableDiffusionFolderWriter.WriteModelIndex(folder);
    }

    /// <summary>
    /// Samples the test split from the exported folder (what ships) with StableDiffusionPipeline
    /// (DDIM, classifier-free guidance against the empty prompt) and runs the evaluator. The images
    /// and prompts.txt are kept in <paramref name="evalFolder"/>, so
    /// `finerewards eval-shapes --prompts evalFolder/prompts.txt --images evalFolder --k K` repeats the numbers.
    /// </summary>
    public (ShapesReport Report, string Folder) Evaluate(string diffusersFolder, string evalFolder, long seed, Action<string>? progress = null)
    {
        var prompts = PromptCatalog.Split(PromptSplit.Test);
        if (o.EvalPrompts is int limit) prompts = prompts.Take(limit).ToList();
        using var pipeline = StableDiffusionPipeline.FromDiffusersFolder(diffusersFolder);
        var clock = Stopwatch.StartNew();
        var images = prompts.Select((p, i) =>
        {
            var candidates = pipeline.Generate(new GenerationRequest(p.Text, o.EvalK, seed * 100_000 + i * 100,
                Sampler: "ddim", Steps: o.EvalSteps, Guidance: o.EvalGuidance, Width: Scene.Canvas, Height: Scene.Canvas));
            if ((i + 1) % 16 == 0) progress?.Invoke($"diffusion: evaluated {i + 1}/{prompts.Count} prompts ({clock.Elapsed.TotalSeconds:0} s)");
            return candidates.Select(c => c.Image).ToList();
        }).ToList();
        if (Directory.Exists(evalFolder)) Directory.Delete(evalFolder, recursive: true);
        Directory.CreateDirectory(evalFolder);
        PromptCatalog.WritePromptsFile(Path.Combine(evalFolder, "prompts.txt"), prompts);
        var results = new List<PromptResult>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var candidates = new List<CandidateResult>();
            for (int c = 0; c < images[i].Count; c++)
            {
                string file = CandidateFiles.ImageName(i, c);
                PngCodec.Write(images[i][c], Path.Combine(evalFolder, file));
                candidates.Add(new CandidateResult(c, file, ShapesEvaluator.Evaluate(images[i][c], prompts[i])));
            }
            results.Add(new PromptResult(i, prompts[i].Text, prompts[i], candidates));
        }
        var report = new ShapesReport(results);
        AtomicFile.WriteAllText(Path.Combine(evalFolder, "report.json"), report.ToJson());
        return (report, evalFolder);
    }
}
