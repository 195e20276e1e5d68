using System.CommandLine;
using FineRewards.Cli.Cli;
using FineRewards.Cli.Packs;
using FineRewards.Diffusion.Runtime;

// `finerewards`: every command is one file under Cli/ that builds its System.CommandLine node; the built-in packs add their own (BuiltInPacks).
// Before anything touches libtorch: oneDNN keeps the kernels it picks at the process's first convolution (docs/building.md).
OneDnnIsa.Apply();
var root = new RootCommand("FineRewards for .NET: reward-guided best-of-K image generation and LoRA training.");
var packs = BuiltInPacks.Registry();
root.Subcommands.Add(RankCommand.Create());
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(DemoCommand.Create(packs));
root.Subcommands.Add(InspectCommand.Create());
foreach (var command in BuiltInPacks.RootCommands()) root.Subcommands.Add(command);
root.Subcommands.Add(ServeCommand.Create(packs));
root.Subcommands.Add(PackCommand.Create(BuiltInPacks.PackSubcommands()));
root.Subcommands.Add(GenerateCommand.Create(packs));
root.Subcommands.Add(BenchCommand.Create(packs));
root.Subcommands.Add(ScoreCommand.Create(packs));
root.Subcommands.Add(TrainCommand.Create(packs));
root.Subcommands.Add(EvalCommand.Create(packs));
root.Subcommands.Add(ReportCommand.Create());
return root.Parse(args).Invoke();
