using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Cli.Cli;
using FineRewards.ShapesPack;
using FineRewards.ShapesPack.Cli;
using FineRewards.ShapesPack.Pack;

namespace FineRewards.Cli.Packs;

/// <summary>
/// The packs this build of `finerewards` can run (the composition root: the one place that names the packs' types):
/// the built-in Shapes pack by name, and pack folders of the Shapes family and of Stable Diffusion checkpoints
/// (`pack create sd`) or ONNX reward models alone. Every command and `serve` get their packs here; other names fail
/// with an error that names the pack and what is registered.
/// </summary>
public static class BuiltInPacks
{
    public static PackRegistry Registry() => new PackRegistry()
        .Register(ShapesPackInfo.Name, ShapesModelPack.Locate)
        .RegisterFolders("shapes", ShapesModelPack.Open)
        // A Stable Diffusion pack without a GGUF judge judges segment labels with the Shapes world's lexical judge.
        .RegisterFolders("stable-diffusion", (folder, manifest) => SdModelPack.Open(folder, manifest, ShapesModelPack.LexicalJudge));

    /// <summary>The label judges the host lists in GetCapabilities (the Shapes world's lexical judge).</summary>
    public static IReadOnlyList<ILabelJudge> Judges() => [ShapesModelPack.LexicalJudge()];

    /// <summary>What the executable lends the packs' commands: its error guard and its --threads option.</summary>
    static CommandServices Services => new(CliErrors.Guard, ThreadsOption.Create, ThreadsOption.Apply);

    /// <summary>Commands the built-in packs add to the root (the Shapes world's shapes-prompts, render-shapes, eval-shapes).</summary>
    public static IReadOnlyList<Command> RootCommands() => ShapesPackCommands.Root(Services);

    /// <summary>Subcommands the built-in packs add under `pack` (`pack train shapes`, `pack eval shapes`).</summary>
    public static IReadOnlyList<Command> PackSubcommands() => ShapesPackCommands.PackSubcommands(Services);
}
