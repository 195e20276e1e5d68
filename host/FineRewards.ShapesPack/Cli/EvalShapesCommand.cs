using System.CommandLine;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Shapes.Evaluation;

namespace FineRewards.ShapesPack.Cli;

/// <summary>`finerewards eval-shapes`: ground-truth accuracy of generated Shapes images (the world's GenEval).</summary>
public static class EvalShapesCommand
{
    public static Command Create(CommandServices services)
    {
        var prompts = new Option<FileInfo>("--prompts") { Description = "Prompts file, one prompt per line (blank lines skipped).", Required = true };
        var images = new Option<DirectoryInfo>("--images") { Description = "Folder with p{i:0000}_c{c}.png for prompt i, candidate c.", Required = true };
        var k = new Option<int?>("--k") { Description = "Candidates per prompt (all must exist); default: as many as are found, at least one." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the full report (every object found, reasons) as JSON here." };
        var command = new Command("eval-shapes", "Check each image against its prompt exactly and print accuracy per task, overall, and any-correct-of-K.")
        {
            prompts, images, k, json,
        };
        command.SetAction(parse => services.Guard(() =>
        {
            var report = ShapesEvalRun.Run(parse.GetValue(prompts)!.FullName, parse.GetValue(images)!.FullName, parse.GetValue(k));
            Console.Out.Write(report.FormatTable());
            if (parse.GetValue(json) is FileInfo output)
            {
                AtomicFile.WriteAllText(output.FullName, report.ToJson());
                Console.Out.WriteLine($"report written to {output.FullName}");
            }
            return CommandServices.Ok;
        }));
        return command;
    }
}
