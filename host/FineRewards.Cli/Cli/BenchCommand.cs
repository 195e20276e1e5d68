using System.CommandLine;
using FineRewards.Core.Packs;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Training;
using static TorchSharp.torch;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards bench diffusion`: wall-clock speed of the diffusion engine on this machine (UNet
/// forward, best-of-K generation batched and sequential, LoRA training step) and peak memory.
/// Speed targets are checked with this command, not with timed tests.
/// </summary>
public static class BenchCommand
{
    public static Command Create(PackRegistry packs)
    {
        var bench = new Command("bench", "Measure speed, memory and quality of an engine on this machine.");
        bench.Subcommands.Add(Diffusion());
        bench.Subcommands.Add(BenchRewardsCommand.Create(packs));
        bench.Subcommands.Add(BenchHostCommand.Create());
        bench.Subcommands.Add(BenchOnnxCommand.Create());
        bench.Subcommands.Add(BenchLoadCommand.Create());
        bench.Subcommands.Add(BenchClusterCommand.Create(packs));
        return bench;
    }

    static Command Diffusion()
    {
        var model = new Option<string?>("--model") { Description = "A diffusers model folder or a single-file checkpoint to measure." };
        var arch = new Option<string?>("--arch") { Description = $"Random weights of an architecture instead of --model: {string.Join(", ", SyntheticPipeline.Architectures)}." };
        var k = new Option<int>("--k") { Description = "Candidates per generation.", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "Sampler steps per generation and LoRA training steps.", DefaultValueFactory = _ => 10 };
        var size = new Option<string?>("--size") { Description = "Image size WxH (default: the model's native size)." };
        var repeats = new Option<int>("--repeats") { Description = "Timed UNet forwards (after one warm-up).", DefaultValueFactory = _ => 5 };
        var only = new Option<string>("--only") { Description = "Run only one part: unet, generate, train, or all.", DefaultValueFactory = _ => "all" };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var threads = ThreadsOption.Create();
        var command = new Command("diffusion", "Time a UNet forward, a K-candidate generation (batched vs one by one) and a LoRA training step; report peak memory.")
        {
            model, arch, k, steps, size, repeats, only, json, threads,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string? folder = parse.GetValue(model), architecture = parse.GetValue(arch);
            if ((folder is null) == (architecture is null)) throw new InputException("--model/--arch", "give exactly one of --model or --arch");
            int count = parse.GetValue(k), stepCount = parse.GetValue(steps), repeatCount = parse.GetValue(repeats);
            if (count < 1) throw new InputException("--k", "must be at least 1");
            if (stepCount < 1) throw new InputException("--steps", "must be at least 1");
            if (repeatCount < 1) throw new InputException("--repeats", "must be at least 1");
            string part = parse.GetValue(only)!;
            if (part is not ("unet" or "generate" or "train" or "all")) throw new InputException("--only", $"expected unet, generate, train or all, got \"{part}\"");

            ThreadsOption.Apply(parse, threads);
            var clock = Stopwatch.StartNew();
            var options = new PipelineOptions(MaxBatchSize: count, MaxCandidates: Math.Max(count, PipelineOptions.Default.MaxCandidates));
            using var pipeline = folder is not null ? GenerateCommand.Load(folder, options) : SyntheticPipeline.Create(architecture!, 0, options);
            var (width, height) = GenerateCommand.ParseSize(parse.GetValue(size), pipeline);
            var result = new JsonObject
            {
                ["model"] = pipeline.Name,
                ["width"] = width,
                ["height"] = height,
                ["torch_threads"] = get_num_threads(),
                ["processors"] = Environment.ProcessorCount,
                ["load_seconds"] = Round(clock.Elapsed.TotalSeconds),
            };
            void Say(string line) { if (!parse.GetValue(json)) Console.Out.WriteLine(line); }
            Say($"{pipeline.Name} {width}x{height}, torch threads {get_num_threads()}, loaded in {result["load_seconds"]} s");

            if (part is "unet" or "all")
            {
                double ms = UnetForwardMs(pipeline, width, height, repeatCount);
                result["unet_forward_ms_batch2"] = Round(ms);
                Say($"UNet forward, batch 2 (one guided candidate): {ms:F1} ms (median of {repeatCount})");
            }
            if (part is "generate" or "all")
            {
                var request = new GenerationRequest("a red circle above a blue square", count, 1, Steps: stepCount, Width: width, Height: height);
                pipeline.Generate(request with { K = 1, Steps = 1 });   // warm-up
                clock.Restart();
                pipeline.Generate(request);
                double batched = clock.Elapsed.TotalSeconds;
                clock.Restart();
                for (int i = 0; i < count; i++) pipeline.Generate(request with { K = 1, BaseSeed = request.BaseSeed + i });
                double sequential = clock.Elapsed.TotalSeconds;
                result["generate_batched_seconds"] = Round(batched);
                result["generate_batched_seconds_per_step"] = Round(batched / stepCount);
                result["generate_batched_images_per_second"] = Round(count / batched);
                result["generate_sequential_seconds"] = Round(sequential);
                result["generate_sequential_images_per_second"] = Round(count / sequential);
                Say($"K={count}, {stepCount} ddim steps, guidance 7.5: batched {batched:F2} s ({batched / stepCount:F3} s/step, {count / batched:F2} images/s); " +
                    $"one by one {sequential:F2} s ({count / sequential:F2} images/s)");
            }
            if (part is "train" or "all")
            {
                var stepMs = TrainStepMs(pipeline, width, height, stepCount);
                result["lora_train_step_ms_median"] = Round(Median(stepMs.Skip(1).DefaultIfEmpty(stepMs[0]).ToList()));
                result["lora_train_first_step_ms"] = Round(stepMs[0]);
                Say($"LoRA training step (rank 4, batch 1): {result["lora_train_step_ms_median"]} ms median after a first step of {stepMs[0]:F0} ms");
            }
            using var process = Process.GetCurrentProcess();
            process.Refresh();
            result["peak_working_set_mib"] = Round(process.PeakWorkingSet64 / 1048576.0);
            Say($"peak working set {result["peak_working_set_mib"]} MiB");
            if (parse.GetValue(json)) Console.Out.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return CliErrors.Ok;
        }));
        return command;
    }

    static double UnetForwardMs(StableDiffusionPipeline pipeline, int width, int height, int repeats)
    {
        using var noGrad = no_grad();
        int f = pipeline.SizeMultiple;
        var times = new List<double>();
        for (int i = 0; i <= repeats; i++)
        {
            using var scope = NewDisposeScope();
            var sample = randn(2, pipeline.Unet.Config.InChannels, height / f, width / f);
            var context = pipeline.EncodeText(["", "a red circle"]);
            var clock = Stopwatch.StartNew();
            pipeline.Unet.forward(sample, tensor(500f), context);
            if (i > 0) times.Add(clock.Elapsed.TotalMilliseconds);   // the first call pays one-time setup
        }
        return Median(times);
    }

    static List<double> TrainStepMs(StableDiffusionPipeline pipeline, int width, int height, int steps)
    {
        var image = new RgbImage(width, height, Enumerable.Range(0, width * height * 3).Select(i => (byte)(i * 37 % 251)).ToArray());
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        var progress = new StepTimer(() => { times.Add(clock.Elapsed.TotalMilliseconds); clock.Restart(); });
        var output = Path.Combine(Path.GetTempPath(), $"fr-bench-lora-{Guid.NewGuid():N}.safetensors");
        try
        {
            clock.Restart();
            new LoraTrainer(pipeline).Train([new TrainingPair("a red circle", image)], new LoraTrainingOptions(Steps: steps), output, progress);
        }
        finally
        {
            File.Delete(output);
        }
        // The first interval also holds the VAE encode and text encode of the data.
        return times;
    }

    sealed class StepTimer(Action onStep) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onStep();
    }

    static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static double Round(double v) => Math.Round(v, 3);
}
