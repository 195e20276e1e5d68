using System.CommandLine;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Core.Training;
using FineRewards.Cli.Training;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards eval`: rewards and ground-truth accuracy of a pack (optionally with a LoRA) on held-out prompts.</summary>
public static class EvalCommand
{
    public static Command Create(PackRegistry packs, TextWriter? output = null)
    {
        var pack = new Option<string>("--pack") { Description = "Model pack: shapes, or a pack folder with pack.json (e.g. made by `pack create sd`; it has no ground truth, so rewards only).", Required = true };
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompts file (held-out prompts, e.g. from `finerewards shapes-prompts --split test`).", Required = true };
        var k = new Option<int>("--k") { Description = "Candidates per prompt.", DefaultValueFactory = _ => 4 };
        var seed = new Option<long>("--seed") { Description = "Seed; prompt p's candidates use seeds derived from it and p, so runs with and without a LoRA compare like for like.", DefaultValueFactory = _ => 1 };
        var lora = new Option<FileInfo?>("--lora") { Description = "LoRA checkpoint to generate with (e.g. RUN_DIR/loras/round03.safetensors); default the base model." };
        var loraScale = new Option<double>("--lora-scale") { Description = "LoRA scale.", DefaultValueFactory = _ => 1.0 };
        var rewards = new Option<string?>("--rewards") { Description = "Comma-separated rewards to score with (default: all of the pack's)." };
        var combineSets = new Option<string?>("--combine-sets") { Description = "Reward sets whose arl, sum and normalized top-1 are reported, e.g. caption+sam,caption+sam+clip (default: caption+sam when both are scored, else all the rewards)." };
        var sampling = new SamplingOptions();
        var threads = ThreadsOption.Create();
        var outDir = new Option<DirectoryInfo>("--out") { Description = "Folder for p{i:0000}_c{c}.png, eval.json (every score, evidence, verdict) and eval.md.", Required = true };
        var command = new Command("eval", "Generate K images per prompt, report mean rewards, ground-truth accuracy per task and overall, and the fraction of prompts with at least one correct of K.")
        {
            pack, prompts, k, seed, lora, loraScale, rewards, combineSets, threads, outDir,
        };
        foreach (var option in sampling.All) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            ThreadsOption.Apply(parse, threads);
            var writer = output ?? Console.Out;
            using var runtime = packs.Resolve(parse.GetValue(pack)!);
            var names = parse.GetValue(rewards) is string r ? TrainCommand.SplitList(r) : runtime.RewardNames();
            var options = new EvalOptions(runtime.Name, parse.GetValue(prompts)!.FullName, parse.GetValue(k), parse.GetValue(seed), names,
                parse.GetValue(lora)?.FullName, parse.GetValue(loraScale), sampling.Apply(parse, runtime.DefaultGeneration),
                CombineSets: parse.GetValue(combineSets) is string sets ? TrainCommand.SplitList(sets).Select(set => (IReadOnlyList<string>)set.Split('+', StringSplitOptions.TrimEntries)).ToList() : null);
            string dir = parse.GetValue(outDir)!.FullName;
            var summary = ConsoleRunProgress.Run(writer, progress => new EvalRun(runtime, progress).Run(options, dir));
            string table = EvalRun.Format(summary);
            AtomicFile.WriteAllText(Path.Combine(dir, "eval.md"), table);
            writer.Write(table);
            writer.WriteLine($"written to {dir} ({EvalRun.FileName}, eval.md, images)");
            return CliErrors.Ok;
        }));
        return command;
    }
}
