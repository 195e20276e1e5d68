using System.CommandLine;
using System.Globalization;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Cli.Training;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards train`: reward-ranked LoRA training rounds (RAFT with ARL) on a pack; see docs/training.md.</summary>
public static class TrainCommand
{
    public static Command Create(PackRegistry packs, TextWriter? output = null)
    {
        var pack = new Option<string>("--pack") { Description = "Model pack whose generator, trainer and rewards run the rounds: shapes, or a pack folder with pack.json (e.g. made by `pack create sd`).", Required = true };
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompts file: one prompt per line; blank lines and # comments skipped.", Required = true };
        var rounds = new Option<int>("--rounds") { Description = "Training rounds.", DefaultValueFactory = _ => 3 };
        var k = new Option<int>("--k") { Description = "Candidates generated per prompt and round.", DefaultValueFactory = _ => 8 };
        var rewards = new Option<string>("--rewards") { Description = "Comma-separated rewards of the pack, e.g. caption,sam.", DefaultValueFactory = _ => "caption,sam" };
        var combine = new Option<string>("--combine") { Description = "How the best candidate is chosen: arl, sum, normalized, single:NAME, random, or oracle (the pack's ground truth; experiments only).", DefaultValueFactory = _ => "arl" };
        var outDir = new Option<DirectoryInfo>("--out") { Description = "RUN_DIR: candidates, scores, selections, LoRA checkpoints, run.json, run.log.", Required = true };
        var rank = new Option<int>("--lora-rank") { Description = "LoRA rank r.", DefaultValueFactory = _ => TrainingRunOptions.DefaultLoraRank };
        var alpha = new Option<double?>("--lora-alpha") { Description = "LoRA alpha (default: the rank, scale 1)." };
        var stepsPerRound = new Option<int?>("--steps-per-round") { Description = "Optimiser steps per round (exclusive with --steps-per-image)." };
        var stepsPerImage = new Option<int?>("--steps-per-image") { Description = $"Steps per pair of the round's cumulative training set (default {TrainingRunOptions.DefaultStepsPerImage})." };
        var lr = new Option<double>("--lr") { Description = "Learning rate.", DefaultValueFactory = _ => TrainingRunOptions.DefaultLearningRate };
        var batch = new Option<int>("--batch-size") { Description = "Pairs per optimiser step.", DefaultValueFactory = _ => 1 };
        var filter = new Option<double>("--filter-top") { Description = "RAFT filter: keep this fraction of prompts by the selected image's score (1 keeps all).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { Description = "Run seed; every candidate, training and selection seed derives from it.", DefaultValueFactory = _ => 1234 };
        var loraScale = new Option<double>("--lora-scale") { Description = "Scale of the round's LoRA while generating.", DefaultValueFactory = _ => 1.0 };
        var extra = new Option<DirectoryInfo?>("--extra-data") { Description = "Folder of accepted pairs (NAME.png + NAME.json {\"prompt\":...}) added to every round's training set." };
        var previews = new Option<int>("--previews") { Description = "First N prompts get a fixed-seed preview after every round (before/after grids).", DefaultValueFactory = _ => 4 };
        var sampling = new SamplingOptions();
        var dropout = new Option<double>("--prompt-dropout") { Description = "Fraction of training samples trained with the empty prompt (keeps guidance's unconditional branch in step).", DefaultValueFactory = _ => TrainingRunOptions.DefaultPromptDropout };
        var schedule = new Option<string>("--lr-schedule") { Description = "Learning-rate schedule: constant or cosine.", DefaultValueFactory = _ => TrainingRunOptions.DefaultLrSchedule };
        var trainOn = new Option<string>("--train-on") { Description = "latents: learn selected candidates from the latents they were decoded from; images: re-encode their PNGs (lossy; kept to measure it).", DefaultValueFactory = _ => TrainingRunOptions.TrainOnLatents };
        var targets = new Option<string>("--lora-targets") { Description = $"Layers the LoRA reaches: {LoraTargets.Attention} (to_q/to_k/to_v/to_out.0), {LoraTargets.AttentionFeedForward} (+ feed-forward), {LoraTargets.UNet} (every Linear and Conv2d of the UNet's blocks, LoCon), {LoraTargets.UNetText} (+ the text encoder's Linear layers).", DefaultValueFactory = _ => TrainingRunOptions.DefaultLoraTargets };
        var minTimestep = new Option<double>("--min-timestep") { Description = "Train only at noise levels t >= this fraction of the schedule (0: all). High noise decides which objects, how many and where; low noise the colours and edges the model's own images get wrong.", DefaultValueFactory = _ => TrainingRunOptions.DefaultMinTimestep };
        var objective = new Option<string>("--objective") { Description = "What the LoRA learns: raft (the denoising loss on the kept images) or dpo (each kept image preferred to its prompt's last-ranked candidate, against the base model; with --combine random, to another random candidate).", DefaultValueFactory = _ => LoraObjectives.Raft };
        var dpoBeta = new Option<double>("--dpo-beta") { Description = "dpo's beta: the larger, the closer to the base model it stays.", DefaultValueFactory = _ => TrainingRunOptions.DefaultDpoBeta };
        var dpoPairs = new Option<int>("--dpo-pairs") { Description = "dpo's pairs per prompt: the pick against the last-ranked candidate, the second against the second-last, and so on.", DefaultValueFactory = _ => 1 };
        var threads = ThreadsOption.Create();
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last finished step (same options required)." };

        var command = new Command("train", "Run reward-ranked LoRA training rounds: generate K per prompt, score, rank, keep the best, train, repeat.")
        {
            pack, prompts, rounds, k, rewards, combine, outDir, rank, alpha, stepsPerRound, stepsPerImage, lr, batch, filter, seed, loraScale,
            extra, previews, dropout, schedule, trainOn, targets, minTimestep, objective, dpoBeta, dpoPairs, threads, resume,
        };
        foreach (var option in sampling.All) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            ThreadsOption.Apply(parse, threads);
            var writer = output ?? Console.Out;
            using var runtime = packs.Resolve(parse.GetValue(pack)!);
            var generation = sampling.Apply(parse, runtime.DefaultGeneration);
            int? perRound = parse.GetValue(stepsPerRound);
            int? perImage = parse.GetValue(stepsPerImage) ?? (perRound is null ? TrainingRunOptions.DefaultStepsPerImage : null);
            int r = parse.GetValue(rank);
            var options = new TrainingRunOptions(
                runtime.Name, parse.GetValue(prompts)!.FullName, parse.GetValue(rounds), parse.GetValue(k),
                SplitList(parse.GetValue(rewards)!), parse.GetValue(combine)!, parse.GetValue(seed), r, parse.GetValue(alpha) ?? r,
                parse.GetValue(lr), perRound, perImage, parse.GetValue(batch), parse.GetValue(filter), parse.GetValue(loraScale),
                parse.GetValue(extra)?.FullName, parse.GetValue(previews), generation,
                parse.GetValue(dropout), parse.GetValue(schedule)!, parse.GetValue(trainOn)!, parse.GetValue(targets)!,
                parse.GetValue(minTimestep), parse.GetValue(objective)!, parse.GetValue(dpoBeta), parse.GetValue(dpoPairs));
            string runDir = parse.GetValue(outDir)!.FullName;

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try
            {
                var manifest = ConsoleRunProgress.Run(writer, progress =>
                    new RoundEngine(runtime, progress).Run(options, runDir, parse.GetValue(resume), cancel.Token));
                writer.WriteLine($"run {manifest.Status}: {manifest.Rounds.Count} rounds, last checkpoint {manifest.Rounds[^1].Checkpoint}; manifest {Path.Combine(runDir, RunManifest.FileName)}");
                return CliErrors.Ok;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"interrupted; every finished step is saved. Continue with the same command and --resume (run folder {runDir})");
                return CliErrors.Failed;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }));
        return command;
    }

    public static IReadOnlyList<string> SplitList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal static string Number(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
