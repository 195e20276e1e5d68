using System.CommandLine;
using FineRewards.Cli.Training;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards report RUN_DIR...`: report.md, plots per round and before/after grids of training runs.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Argument<DirectoryInfo[]>("RUN_DIR") { Description = "Run folders made by `finerewards train`.", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Where report.md and the PNGs go (default: the run folder for one run, else report/ beside the first run)." };
        var command = new Command("report", "Write report.md with per-round tables, reward and accuracy plots (PNG) and before/after image grids for one or more runs.")
        {
            runs, outDir,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var dirs = parse.GetValue(runs)!.Select(d => d.FullName).ToList();
            string output = parse.GetValue(outDir)?.FullName
                ?? (dirs.Count == 1 ? dirs[0] : Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(dirs[0]))!, "report"));
            var written = RunReport.Write(dirs, output);
            foreach (string file in written.Files) Console.Out.WriteLine($"wrote {file}");
            return CliErrors.Ok;
        }));
        return command;
    }
}
