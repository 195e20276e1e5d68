using System.CommandLine;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Shapes.Grammar;

namespace FineRewards.ShapesPack.Cli;

/// <summary>`finerewards shapes-prompts`: write the Shapes prompts of a split (and task) to a file, one per line.</summary>
public static class ShapesPromptsCommand
{
    public static Command Create(CommandServices services)
    {
        var split = new Option<string>("--split") { Description = "train, validation, test or all.", DefaultValueFactory = _ => "test" };
        var task = new Option<string?>("--task") { Description = "Only one task: single, two_objects, counting or position (default all four)." };
        var output = new Option<FileInfo>("--out") { Description = "Prompts file to write.", Required = true };
        var command = new Command("shapes-prompts", "Write Shapes-world prompts (fixed, disjoint 80/10/10 train/validation/test split per task).")
        {
            split, task, output,
        };
        command.SetAction(parse => services.Guard(() =>
        {
            string splitName = parse.GetValue(split)!;
            string? taskName = parse.GetValue(task);
            IReadOnlyList<PromptTask> tasks = taskName is null ? PromptWords.Tasks : [ParseTask(taskName)];
            var prompts = splitName == "all"
                ? tasks.SelectMany(PromptCatalog.All).ToList()
                : tasks.SelectMany(t => PromptCatalog.Split(t, ParseSplit(splitName))).ToList();
            PromptCatalog.WritePromptsFile(parse.GetValue(output)!.FullName, prompts);
            Console.Out.WriteLine($"wrote {prompts.Count} prompts to {parse.GetValue(output)!.FullName}");
            return CommandServices.Ok;
        }));
        return command;
    }

    static PromptTask ParseTask(string name)
    {
        foreach (var t in PromptWords.Tasks)
            if (t.Key() == name) return t;
        throw new InputException("--task", $"\"{name}\" is not single, two_objects, counting or position");
    }

    static PromptSplit ParseSplit(string name)
    {
        foreach (var s in Enum.GetValues<PromptSplit>())
            if (s.Key() == name) return s;
        throw new InputException("--split", $"\"{name}\" is not train, validation, test or all");
    }
}
