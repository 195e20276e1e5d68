using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Cli.Packs;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards generate`: best-of-K text-to-image with a model pack (`--pack shapes`) or a diffusers
/// Stable Diffusion folder (`--model DIR`), for one prompt or a prompts file. Writes
/// DIR/p{i:0000}_c{c}.png (the layout `eval-shapes` and `eval` read) and DIR/results.jsonl, one line per
/// candidate with its seed, settings, the model's and LoRAs' hashes and the PNG's SHA-256.
/// </summary>
public static class GenerateCommand
{
    public const string ResultsFile = "results.jsonl";

    public static Command Create(PackRegistry packs)
    {
        var pack = new Option<string?>("--pack") { Description = $"A model pack to generate with ({string.Join(", ", packs.Packs)}, or a pack folder made by `pack create sd`); its sampler, steps and guidance are the defaults." };
        var model = new Option<string?>("--model") { Description = "A Stable Diffusion single-file checkpoint (.safetensors) or diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) instead of --pack." };
        var prompt = new Option<string?>("--prompt") { Description = "What to draw (prompt index 0)." };
        var prompts = new Option<FileInfo?>("--prompts") { Description = "Prompts file instead of --prompt: prompt i is the i-th prompt line (blank lines and # comments skipped)." };
        var negative = new Option<string?>("--negative") { Description = "Negative prompt (the unconditional side of guidance)." };
        var k = new Option<int>("--k") { Description = "Candidates per prompt (candidate c uses seed + c).", DefaultValueFactory = _ => 4 };
        var seed = new Option<long>("--seed") { Description = "Base seed of prompt 0; prompt i uses seed + 1000 * i, so prompts never share noise.", DefaultValueFactory = _ => 0 };
        var sampler = new Option<string?>("--sampler") { Description = $"Sampler: {string.Join(", ", SchedulerFactory.Names)} (default: the pack's, else ddim)." };
        var steps = new Option<int?>("--steps") { Description = "Denoising steps (default: the pack's, else 25)." };
        var guidance = new Option<double?>("--guidance") { Description = "Classifier-free guidance scale, 1 = none (default: the pack's, else 7.5)." };
        var size = new Option<string?>("--size") { Description = "Image size WxH, multiples of the VAE factor (default: the model's native size)." };
        var lora = new Option<string[]>("--lora") { Description = "A LoRA .safetensors (PEFT or kohya) as PATH or PATH:SCALE; repeat for several.", AllowMultipleArgumentsPerToken = false };
        var batch = new Option<int>("--batch") { Description = "Candidates denoised per UNet batch (--model only; a pack uses its own).", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--out") { Description = "Output folder for p{i:0000}_c{c}.png and results.jsonl.", Required = true };
        var threads = ThreadsOption.Create();
        var command = new Command("generate", "Generate K candidate images per prompt with a model pack or a Stable Diffusion folder (best-of-K input).")
        {
            pack, model, prompt, prompts, negative, k, seed, sampler, steps, guidance, size, lora, batch, output, threads,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            ThreadsOption.Apply(parse, threads);
            string? packName = parse.GetValue(pack), modelFolder = parse.GetValue(model);
            if ((packName is null) == (modelFolder is null)) throw new InputException("--pack", "name exactly one of --pack NAME or --model DIR");
            string? single = parse.GetValue(prompt);
            FileInfo? file = parse.GetValue(prompts);
            if ((single is null) == (file is null)) throw new InputException("--prompt", "give exactly one of --prompt TEXT or --prompts FILE");
            int count = parse.GetValue(k);
            if (count < 1) throw new InputException("--k", $"must be at least 1, got {count}");
            int maxBatch = parse.GetValue(batch);
            if (maxBatch < 1) throw new InputException("--batch", $"must be at least 1, got {maxBatch}");
            var loras = (parse.GetValue(lora) ?? []).Select(ParseLora).ToList();
            foreach (var l in loras)
                if (!File.Exists(l.Path)) throw new InputException("--lora", $"{l.Path} does not exist");
            string outDir = parse.GetValue(output)!;

            var clock = Stopwatch.StartNew();
            var pipelineOptions = new PipelineOptions(MaxBatchSize: maxBatch, MaxCandidates: Math.Max(count, PipelineOptions.Default.MaxCandidates));
            // A pack (built-in or a folder) comes from the registry with its own settings; --model is a bare checkpoint.
            using var runtime = packName is null ? null : packs.Resolve(packName);
            using var pipeline = modelFolder is null ? null : Load(modelFolder, pipelineOptions);
            IImageGenerator generator = runtime?.RequireGenerator() ?? pipeline!;
            var defaults = runtime?.DefaultGeneration ?? new GenerationSettings();
            var (width, height) = pipeline is not null ? ParseSize(parse.GetValue(size), pipeline)
                : parse.GetValue(size) is string text ? ParseSize(text) : (defaults.Width, defaults.Height);
            var texts = single is not null ? [single] : PromptsFile.Read(file!.FullName, runtime is null ? null : runtime.ValidatePrompt);
            if (single is not null) runtime?.ValidatePrompt(single, "--prompt");
            double loadSeconds = clock.Elapsed.TotalSeconds;

            var lines = new List<string>();
            clock.Restart();
            var progress = GenerationConsoleProgress.ForStderr();
            for (int i = 0; i < texts.Count; i++)
            {
                var request = new GenerationRequest(texts[i], count, parse.GetValue(seed) + 1000L * i, parse.GetValue(negative) ?? defaults.NegativePrompt,
                    parse.GetValue(sampler) ?? defaults.Sampler, parse.GetValue(steps) ?? defaults.Steps, parse.GetValue(guidance) ?? defaults.Guidance,
                    width, height, loras);
                progress.Prompt = (i, texts.Count);
                var candidates = generator.Generate(request, progress).OrderBy(c => c.Index).ToList();
                Directory.CreateDirectory(outDir);   // only once something was generated: a refused request leaves no folder behind
                foreach (var c in candidates)
                {
                    string name = CandidateFiles.ImageName(i, c.Index);
                    byte[] png = PngCodec.Encode(c.Image);
                    AtomicFile.WriteAllBytes(Path.Combine(outDir, name), png);
                    var line = new JsonObject
                    {
                        ["prompt_index"] = i,
                        ["candidate_index"] = c.Index,
                        ["file"] = name,
                        ["prompt"] = texts[i],
                        ["seed"] = c.Seed,
                        ["sampler"] = request.Sampler,
                        ["steps"] = request.Steps,
                        ["guidance"] = request.Guidance,
                        ["width"] = width,
                        ["height"] = height,
                        ["pack"] = packName,
                        ["model"] = modelFolder is null ? null : Path.GetFullPath(modelFolder),
                        ["model_hash"] = c.Provenance.GetValueOrDefault("model_hash"),
                        ["loras"] = JsonNode.Parse(c.Provenance.GetValueOrDefault("loras") ?? "[]"),
                        ["png_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)),
                    };
                    var provenance = new JsonObject();
                    foreach (var (key, value) in c.Provenance.OrderBy(p => p.Key, StringComparer.Ordinal)) provenance[key] = value;
                    line["provenance"] = provenance;
                    lines.Add(line.ToJsonString());
                }
                // Rewritten after every prompt: an interrupted run keeps a results file that matches its images.
                AtomicFile.WriteAllText(Path.Combine(outDir, ResultsFile), string.Join('\n', lines) + "\n");
            }
            progress.End();
            Console.Out.WriteLine($"{texts.Count} prompt(s) x {count} candidates of {width}x{height} in {clock.Elapsed.TotalSeconds:F1} s " +
                                  $"(model loaded in {loadSeconds:F1} s) -> {outDir} ({ResultsFile})");
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>Loads a diffusers folder or a single-file checkpoint; a corrupt or mismatched weights file is bad input (exit 2), reported with every problem.</summary>
    public static StableDiffusionPipeline Load(string folder, PipelineOptions options)
    {
        try
        {
            return SingleFilePipeline.LoadFileOrFolder(folder, options: options);
        }
        catch (Exception e) when (e is CheckpointMismatchException or InvalidDataException or FileNotFoundException)
        {
            throw new InputException(folder, e.Message);
        }
    }

    /// <summary>PATH or PATH:SCALE (a trailing ":number" is the scale, so Windows drive letters stay in the path).</summary>
    public static LoraReference ParseLora(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon > 0 && double.TryParse(text[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double scale))
            return new LoraReference(text[..colon], scale);
        if (string.IsNullOrWhiteSpace(text)) throw new InputException("--lora", "expected PATH or PATH:SCALE");
        return new LoraReference(text);
    }

    public static (int Width, int Height) ParseSize(string? text, StableDiffusionPipeline pipeline)
    {
        if (text is null)
        {
            int side = (pipeline.Unet.Config.SampleSize ?? 64) * pipeline.SizeMultiple;
            return (side, side);
        }
        return ParseSize(text);
    }

    public static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int w) || !int.TryParse(parts[1], out int h) || w <= 0 || h <= 0)
            throw new InputException("--size", $"expected WxH such as 512x512, got \"{text}\"");
        return (w, h);
    }
}
