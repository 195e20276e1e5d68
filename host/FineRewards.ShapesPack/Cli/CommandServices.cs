using System.CommandLine;

namespace FineRewards.ShapesPack.Cli;

/// <summary>
/// What the `finerewards` executable lends the commands a pack contributes, so they report bad input and take
/// `--threads` the way every other command does (the executable's CliErrors and ThreadsOption; this project cannot
/// reference the executable).
/// </summary>
/// <param name="Guard">Runs a command body; bad input becomes one line on stderr and exit code 2.</param>
/// <param name="CreateThreads">The `--threads` option.</param>
/// <param name="ApplyThreads">Applies a parsed `--threads`.</param>
public sealed record CommandServices(Func<Func<int>, int> Guard, Func<Option<int?>> CreateThreads, Action<ParseResult, Option<int?>> ApplyThreads)
{
    public const int Ok = 0;
}

/// <summary>
/// The Shapes pack's own commands: the world's `shapes-prompts`, `render-shapes` and `eval-shapes` on the root, and
/// `pack train shapes` / `pack eval shapes` under `pack`. The executable adds them where it builds its command tree.
/// </summary>
public static class ShapesPackCommands
{
    public static IReadOnlyList<Command> Root(CommandServices services) =>
        [EvalShapesCommand.Create(services), RenderShapesCommand.Create(services), ShapesPromptsCommand.Create(services)];

    public static IReadOnlyList<Command> PackSubcommands(CommandServices services) =>
        [PackTrainCommands.CreateTrain(services), PackTrainCommands.CreateEval(services)];
}
