using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards bench rewards` (a subcommand of <see cref="BenchCommand"/>): reader metrics, reward sanity and time per image, by a pack that can check its own rewards (<see cref="IRewardBench"/>: the Shapes pack).</summary>
public static class BenchRewardsCommand
{
    public static Command Create(PackRegistry packs)
    {
        var pack = new Option<string>("--pack") { Description = "Model pack name or folder.", DefaultValueFactory = _ => "shapes" };
        var prompts = new Option<int>("--prompts") { Description = "Test-split prompts in the reward sanity check.", DefaultValueFactory = _ => 100 };
        var evalImages = new Option<int>("--eval-images") { Description = "Held-out renders per reader metric.", DefaultValueFactory = _ => 256 };
        var k = new Option<int>("--k") { Description = "Batch size (candidates per prompt) for the timings.", DefaultValueFactory = _ => 8 };
        var repeats = new Option<int>("--repeats") { Description = "Timed batches per reader and reward.", DefaultValueFactory = _ => 5 };
        var seed = new Option<long>("--seed") { Description = "Seed of the prompt choice and the renders.", DefaultValueFactory = _ => 1 };
        var rewards = new Option<string>("--rewards") { Description = "Rewards to check and time.", DefaultValueFactory = _ => "caption,sam,clip" };
        var embedder = new Option<string>("--embedder") { Description = "Text embedder of the caption reward: minilm or clip.", DefaultValueFactory = _ => "minilm" };
        var threads = ThreadsOption.Create();
        var output = new Option<FileInfo?>("--out") { Description = "Also write the report here." };
        var rewardsCommand = new Command("rewards", "Reader metrics on held-out renders, reward sanity (correct vs near-miss render on test prompts), time per image.")
        {
            pack, prompts, evalImages, k, repeats, seed, rewards, embedder, threads, output,
        };
        rewardsCommand.SetAction(parse => CliErrors.Guard(() =>
        {
            if (parse.GetValue(k) < 1) throw new InputException("--k", "must be at least 1");
            if (parse.GetValue(prompts) < 1) throw new InputException("--prompts", "must be at least 1");
            ThreadsOption.Apply(parse, threads);
            var names = ModelPackChecks.ParseRewardNames(parse.GetValue(rewards)!);
            using var benched = packs.Resolve(parse.GetValue(pack)!);
            var bench = benched as IRewardBench ?? throw new InputException("--pack", $"pack \"{benched.Name}\" cannot check its own rewards (no renders of its world); `bench onnx` times an ONNX pack's models");
            string report = bench.BenchRewards(new RewardBenchSettings(parse.GetValue(prompts), parse.GetValue(evalImages), parse.GetValue(k), parse.GetValue(repeats), parse.GetValue(seed)),
                names, new RewardOptions(Embedder: parse.GetValue(embedder)!), line => Console.Error.WriteLine($"bench: {line}"));
            Console.Out.Write(report);
            if (parse.GetValue(output) is FileInfo file) AtomicFile.WriteAllText(file.FullName, report);
            return CliErrors.Ok;
        }));
        return rewardsCommand;
    }
}
