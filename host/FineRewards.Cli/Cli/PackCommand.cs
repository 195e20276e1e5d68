using System.CommandLine;
using FineRewards.Core;
using FineRewards.Core.Packs;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards pack`: train the built-in Shapes pack, list packs, verify a pack's files.</summary>
public static class PackCommand
{
    /// <param name="packCommands">Subcommands the built-in packs contribute (the Shapes pack's train and eval).</param>
    public static Command Create(IReadOnlyList<Command> packCommands)
    {
        var command = new Command("pack", "Model packs: train the built-in Shapes pack, list the packs found, verify a pack's files, create a pack for your Stable Diffusion checkpoint.");
        foreach (var packCommand in packCommands) command.Subcommands.Add(packCommand);
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateVerify());
        command.Subcommands.Add(PackCreateCommand.Create());
        return command;
    }

    static Command CreateList()
    {
        var command = new Command("list", "List the packs found ($FINEREWARDS_PACKS, packs/ next to the executable, the user's data folder) with their components.");
        command.SetAction(_ => CliErrors.Guard(() =>
        {
            var packs = PackLocator.Default().FindAll();
            if (packs.Count == 0) Console.Out.WriteLine("no packs found in: " + string.Join(", ", PackLocator.Default().SearchRoots));
            foreach (var p in packs)
            {
                long bytes = p.Manifest?.Files.Sum(f => f.Bytes) ?? 0;
                Console.Out.WriteLine($"{p.Name}\t{(p.Ready ? "ready" : "PROBLEMS")}\t{bytes / 1e6:0.0} MB\t{p.Folder}");
                foreach (var (name, c) in p.Manifest?.Components ?? new Dictionary<string, PackComponent>())
                    Console.Out.WriteLine($"  {name}\t{c.Kind}\t{c.Path}\t{(c.Training is { } t ? $"{t.Steps} steps, {t.Minutes:0.0} min" : "")}");
                foreach (var problem in p.Problems) Console.Out.WriteLine($"  problem: {problem}");
            }
            return CliErrors.Ok;
        }));
        return command;
    }

    static Command CreateVerify()
    {
        var name = new Argument<string>("name") { Description = "Pack name (e.g. shapes) or a pack folder." };
        var command = new Command("verify", "Check every file of a pack against pack.json (size and SHA-256); exit 1 on any problem.") { name };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string value = parse.GetValue(name)!;
            var status = Directory.Exists(value) ? PackLocator.Check(value, verifyHashes: true) : PackLocator.Default().Find(value, verifyHashes: true);
            foreach (var problem in status.Problems) Console.Out.WriteLine($"problem: {problem}");
            if (!status.Ready) return CliErrors.Failed;
            Console.Out.WriteLine($"{status.Name}: {status.Manifest!.Files.Count} files verified (sha256) in {status.Folder}");
            return CliErrors.Ok;
        }));
        return command;
    }
}
