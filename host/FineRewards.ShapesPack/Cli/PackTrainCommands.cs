using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.ShapesPack.Diffusion;
using FineRewards.ShapesPack.Training;

namespace FineRewards.ShapesPack.Cli;

/// <summary>`finerewards pack train shapes` and `pack eval shapes`: train the pack's components from renders, evaluate its diffusion model on the test split.</summary>
public static class PackTrainCommands
{
    public static Command CreateTrain(CommandServices services)
    {
        var pack = new Argument<string>("pack") { Description = "The pack to train (only \"shapes\" is trainable)." };
        var components = new Option<string[]>("--component")
        {
            Description = $"Component to train (repeatable); default all, in order: {string.Join(", ", ShapesPackTrainers.All.Select(t => t.Component))}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var minutes = new Option<double>("--minutes") { Description = "Wall-clock budget per component, in minutes.", DefaultValueFactory = _ => 60 };
        var steps = new Option<long?>("--steps") { Description = "Step budget per component for this run (overrides --minutes); with --resume, 0 re-exports and re-evaluates the checkpoint." };
        var resume = new Option<bool>("--resume") { Description = "Continue each component from its last checkpoint in the work folder." };
        var seed = new Option<long>("--seed") { Description = "Data seed (rendered scenes, prompt order, noise).", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Pack folder to write (default: packs/shapes of this checkout)." };
        var work = new Option<DirectoryInfo?>("--work") { Description = "Checkpoints and logs, not shipped (default: runs/pack-shapes of this checkout)." };
        var threads = services.CreateThreads();
        var diffusionDefaults = new DiffusionTrainOptions();
        var decoderDefaults = new VaeDecoderTrainOptions();
        var lr = new Option<double?>("--lr") { Description = $"diffusion and vae-decoder: peak learning rate (defaults {diffusionDefaults.LearningRate:0.0e0} and {decoderDefaults.LearningRate:0.0e0}); a lower one for a resumed run anneals the model." };
        var datasetSize = new Option<int?>("--dataset-size") { Description = $"diffusion only: rendered training scenes cached as latents (default {diffusionDefaults.DatasetSize}); the first N are the same for any size, so a resumed run can grow it." };
        var command = new Command("train", "Train components of the Shapes pack from data they render themselves; writes weights and pack.json.")
        {
            pack, components, minutes, steps, resume, seed, output, work, threads, lr, datasetSize,
        };
        command.SetAction(parse => services.Guard(() =>
        {
            string name = parse.GetValue(pack)!;
            if (name != ShapesPackInfo.Name) throw new InputException("pack", $"\"{name}\" is not trainable; expected \"{ShapesPackInfo.Name}\"");
            double budget = parse.GetValue(minutes);
            if (!(budget > 0)) throw new InputException("--minutes", $"must be positive, got {budget}");
            long? stepBudget = parse.GetValue(steps);
            if (stepBudget < 0 || (stepBudget == 0 && !parse.GetValue(resume)))
                throw new InputException("--steps", $"must be positive (0 only with --resume: export and evaluate the checkpoint), got {stepBudget}");
            string source = ShapesPackInfo.SourceFolder() ?? Path.Combine(Directory.GetCurrentDirectory(), "packs", ShapesPackInfo.Name);
            string packFolder = parse.GetValue(output)?.FullName ?? source;
            string workFolder = parse.GetValue(work)?.FullName ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source)!)!, "runs", "pack-shapes");
            services.ApplyThreads(parse, threads);
            var wanted = parse.GetValue(components) is { Length: > 0 } list ? list : ShapesPackTrainers.All.Select(t => t.Component).ToArray();
            var trainers = wanted.Select(ShapesPackTrainers.Find).ToList();
            if (parse.GetValue(lr) is { } peak && !(peak > 0 && peak < 1)) throw new InputException("--lr", $"must be between 0 and 1, got {peak}");
            if (parse.GetValue(datasetSize) is { } size && size < 1) throw new InputException("--dataset-size", $"must be at least 1, got {size}");
            if (parse.GetValue(datasetSize) is not null && !trainers.Any(t => t.Component == DiffusionTrainer.Name))
                throw new InputException("--dataset-size", $"--dataset-size applies to the diffusion component only; add --component {DiffusionTrainer.Name}");
            if (parse.GetValue(lr) is not null && !trainers.Any(t => t is DiffusionTrainer or VaeDecoderTrainer))
                throw new InputException("--lr", $"--lr applies to the {DiffusionTrainer.Name} and {VaeDecoderTrainer.Name} components only; add one with --component");
            trainers = trainers.Select(t => t switch
            {
                DiffusionTrainer => new DiffusionTrainer(diffusionDefaults with
                {
                    LearningRate = parse.GetValue(lr) ?? diffusionDefaults.LearningRate,
                    DatasetSize = parse.GetValue(datasetSize) ?? diffusionDefaults.DatasetSize,
                }),
                VaeDecoderTrainer => new VaeDecoderTrainer(decoderDefaults with { LearningRate = parse.GetValue(lr) ?? decoderDefaults.LearningRate }),
                _ => t,
            }).ToList();
            Directory.CreateDirectory(packFolder);
            Directory.CreateDirectory(workFolder);
            string commandLine = "finerewards " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1));
            foreach (var trainer in ShapesPackTrainers.All.Select(t => trainers.FirstOrDefault(w => w.Component == t.Component)).OfType<IPackComponentTrainer>())
            {
                foreach (var dependency in trainer.DependsOn)
                    if (!trainers.Any(t => t.Component == dependency) && PackLocator.Check(packFolder, false).Manifest?.Components?.ContainsKey(dependency) != true)
                        throw new InputException("--component", $"{trainer.Component} needs {dependency} trained first (not in {Path.Combine(packFolder, PackManifest.FileName)}); add --component {dependency}");
                Console.Out.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] training {trainer.Component}: {trainer.Description} -> {packFolder} (work {workFolder})");
                var context = new PackTrainContext(packFolder, Path.Combine(workFolder, trainer.Component), parse.GetValue(seed), budget, stepBudget,
                    parse.GetValue(resume), commandLine, line => Console.Out.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}"));
                var component = trainer.Train(context);
                Console.Out.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {trainer.Component} done: {component.Training?.Steps} steps, {component.Training?.Minutes:0.0} min; " +
                    string.Join(", ", (component.Training?.Metrics ?? new Dictionary<string, double>()).Select(m => $"{m.Key} {m.Value}")));
            }
            return CommandServices.Ok;
        }));
        return command;
    }

    public static Command CreateEval(CommandServices services)
    {
        var pack = new Argument<string>("pack") { Description = "The pack to evaluate (\"shapes\")." };
        var defaults = new DiffusionTrainOptions();
        var k = new Option<int>("--k") { Description = "Candidates per test prompt.", DefaultValueFactory = _ => defaults.EvalK };
        var steps = new Option<int>("--steps") { Description = "DDIM steps.", DefaultValueFactory = _ => defaults.EvalSteps };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => defaults.EvalGuidance };
        var seed = new Option<long>("--seed") { Description = "Sampling seed (candidate seeds derive from it and the prompt index).", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Pack folder (default: packs/shapes of this checkout)." };
        var work = new Option<DirectoryInfo?>("--work") { Description = "Where the images and prompts.txt go (default: runs/pack-shapes/diffusion/eval)." };
        var threads = services.CreateThreads();
        var command = new Command("eval", "Generate the test split with the pack's diffusion model (StableDiffusionPipeline) and record the evaluator's accuracy per task in pack.json, also after one more VAE round trip of the images (reencoded_*).")
        {
            pack, k, steps, guidance, seed, output, work, threads,
        };
        command.SetAction(parse => services.Guard(() =>
        {
            string name = parse.GetValue(pack)!;
            if (name != ShapesPackInfo.Name) throw new InputException("pack", $"\"{name}\" cannot be evaluated; expected \"{ShapesPackInfo.Name}\"");
            services.ApplyThreads(parse, threads);
            string source = ShapesPackInfo.SourceFolder() ?? Path.Combine(Directory.GetCurrentDirectory(), "packs", ShapesPackInfo.Name);
            string packFolder = parse.GetValue(output)?.FullName ?? source;
            string evalFolder = parse.GetValue(work)?.FullName
                ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source)!)!, "runs", "pack-shapes", DiffusionTrainer.Name, "eval");
            var trainer = new DiffusionTrainer(defaults with { EvalK = parse.GetValue(k), EvalSteps = parse.GetValue(steps), EvalGuidance = parse.GetValue(guidance) });
            var (report, _) = trainer.Reevaluate(packFolder, evalFolder, parse.GetValue(seed), line => Console.Out.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}"));
            Console.Out.Write(report.FormatTable());
            Console.Out.WriteLine($"images and prompts.txt in {evalFolder}; pack.json updated");
            return CommandServices.Ok;
        }));
        return command;
    }
}
