using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Core.Contracts;
using FineRewards.Core.IO;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Shapes.Rendering;

namespace FineRewards.Host.Cli;

/// <summary>
/// `finerewards generate`: best-of-K text-to-image with a diffusers Stable Diffusion folder; writes
/// one PNG per candidate and generation.json with every candidate's provenance.
/// </summary>
public static class GenerateCommand
{
    public const string ProvenanceFile = "generation.json";

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A diffusers model folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "What to draw.", Required = true };
        var negative = new Option<string>("--negative") { Description = "Negative prompt (the unconditional side of guidance).", DefaultValueFactory = _ => "" };
        var k = new Option<int>("--k") { Description = "Candidates to generate (candidate i uses seed + i).", DefaultValueFactory = _ => 4 };
        var seed = new Option<long>("--seed") { Description = "Base seed.", DefaultValueFactory = _ => 0 };
        var sampler = new Option<string>("--sampler") { Description = $"Sampler: {string.Join(", ", SchedulerFactory.Names)}.", DefaultValueFactory = _ => "ddim" };
        var steps = new Option<int>("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => 25 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale (1 = no guidance).", DefaultValueFactory = _ => 7.5 };
        var size = new Option<string?>("--size") { Description = "Image size WxH, multiples of the VAE factor (default: the UNet's sample_size times the VAE factor)." };
        var lora = new Option<string[]>("--lora") { Description = "A LoRA .safetensors (PEFT or kohya) as PATH or PATH:SCALE; repeat for several.", AllowMultipleArgumentsPerToken = false };
        var batch = new Option<int>("--batch") { Description = "Candidates denoised per UNet batch.", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--out") { Description = "Output folder for the PNGs and generation.json.", Required = true };
        var threads = ThreadsOption.Create();
        var command = new Command("generate", "Generate K candidate images for a prompt with a Stable Diffusion model folder (best-of-K input).")
        {
            model, prompt, negative, k, seed, sampler, steps, guidance, size, lora, batch, output, threads,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            int count = parse.GetValue(k);
            int maxBatch = parse.GetValue(batch);
            if (maxBatch < 1) throw new InputException("--batch", $"must be at least 1, got {maxBatch}");
            var loras = (parse.GetValue(lora) ?? []).Select(ParseLora).ToList();
            string outDir = parse.GetValue(output)!;
            ThreadsOption.Apply(parse, threads);

            var clock = Stopwatch.StartNew();
            using var pipeline = Load(parse.GetValue(model)!,
                new PipelineOptions(MaxBatchSize: maxBatch, MaxCandidates: Math.Max(count, PipelineOptions.Default.MaxCandidates)));
            double loadSeconds = clock.Elapsed.TotalSeconds;
            var (width, height) = ParseSize(parse.GetValue(size), pipeline);
            var request = new GenerationRequest(parse.GetValue(prompt)!, count, parse.GetValue(seed), parse.GetValue(negative)!,
                parse.GetValue(sampler)!, parse.GetValue(steps), parse.GetValue(guidance), width, height, loras);

            clock.Restart();
            var progress = new ConsoleProgress();
            var candidates = pipeline.Generate(request, progress);
            double generateSeconds = clock.Elapsed.TotalSeconds;
            Console.Error.WriteLine();

            Directory.CreateDirectory(outDir);
            var entries = new JsonArray();
            foreach (var c in candidates)
            {
                string file = $"candidate-{c.Index:D2}-seed-{c.Seed}.png";
                byte[] png = ImageFiles.EncodePng(c.Image);
                AtomicFile.WriteAllBytes(Path.Combine(outDir, file), png);
                var provenance = new JsonObject();
                foreach (var (key, value) in c.Provenance.OrderBy(p => p.Key, StringComparer.Ordinal)) provenance[key] = value;
                entries.Add(new JsonObject
                {
                    ["index"] = c.Index,
                    ["seed"] = c.Seed,
                    ["file"] = file,
                    ["png_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)),
                    ["provenance"] = provenance,
                });
            }
            var job = new JsonObject
            {
                ["model_folder"] = Path.GetFullPath(parse.GetValue(model)!),
                ["model"] = pipeline.Name,
                ["model_hash"] = pipeline.ModelHash,
                ["load_seconds"] = Math.Round(loadSeconds, 3),
                ["generate_seconds"] = Math.Round(generateSeconds, 3),
                ["candidates"] = entries,
            };
            AtomicFile.WriteAllText(Path.Combine(outDir, ProvenanceFile), job.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.Out.WriteLine($"{count} candidates of {width}x{height} in {generateSeconds:F1} s ({request.Steps} {request.Sampler} steps) -> {outDir}");
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>Loads a model folder; a corrupt or mismatched weights file is bad input (exit 2), reported with every problem.</summary>
    public static StableDiffusionPipeline Load(string folder, PipelineOptions options)
    {
        try
        {
            return StableDiffusionPipeline.FromDiffusersFolder(folder, options);
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
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int w) || !int.TryParse(parts[1], out int h) || w <= 0 || h <= 0)
            throw new InputException("--size", $"expected WxH such as 512x512, got \"{text}\"");
        return (w, h);
    }

    /// <summary>One status line on stderr, rewritten every step.</summary>
    sealed class ConsoleProgress : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress p) =>
            Console.Error.Write($"\rstep {p.Step}/{p.Steps}, candidates done {p.CandidatesDone}/{p.Candidates}   ");
    }
}
