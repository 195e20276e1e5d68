using System.CommandLine;
using FineRewards.Core.Ranking;
using Spectre.Console;

namespace FineRewards.Host.Cli;

/// <summary>
/// `finerewards demo`: the README's first command. Until the built-in Shapes pack ships it checks
/// the machine (doctor) and ranks the bundled best-of-4 example under every combination method,
/// showing where the paper's rank sum and a plain score sum disagree.
/// </summary>
public static class DemoCommand
{
    public const string ExampleResource = "FineRewards.Host.Examples.best-of-4.json";

    public static Command Create()
    {
        var command = new Command("demo", "Check this machine and rank the bundled best-of-K example with every combination method.");
        command.SetAction(_ => Run(Console.Out));
        return command;
    }

    public static string ReadExample()
    {
        using var stream = typeof(DemoCommand).Assembly.GetManifestResourceStream(ExampleResource)
            ?? throw new InvalidOperationException($"bundled example {ExampleResource} is missing from the executable");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static int Run(TextWriter output)
    {
        int doctor = DoctorCommand.Run(asJson: false, output);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.WriteLine();
        console.MarkupLine("[bold]Ranking the bundled example[/] (examples/rank/best-of-4.json): K = 4 candidates per prompt, rewards caption and sam.");

        var (prompts, _) = RankingJson.ParseInput(ReadExample(), ExampleResource);
        var methods = new[] { CombineMethod.Arl, CombineMethod.Sum, CombineMethod.Normalized, CombineMethod.Single("caption"), CombineMethod.Single("sam") };
        foreach (var prompt in prompts)
        {
            var table = new Table().Title(Markup.Escape($"\"{prompt.Prompt}\"")).AddColumn("candidate").AddColumn("caption").AddColumn("sam");
            foreach (var m in methods) table.AddColumn(m.ToString());
            var results = methods.ToDictionary(m => m, m => CandidateRanker.Rank(prompt.Candidates, m, null, prompt.Field));
            for (int i = 0; i < prompt.Candidates.Count; i++)
            {
                var c = prompt.Candidates[i];
                var cells = new List<string>
                {
                    c.Id,
                    c.Scores["caption"].ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
                    c.Scores["sam"].ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
                };
                foreach (var m in methods)
                {
                    var r = results[m];
                    int place = r.Order.ToList().IndexOf(c.Id) + 1;
                    cells.Add(r.Selected == c.Id ? $"[green]#{place} *[/]" : $"#{place}");
                }
                table.AddRow(cells.Select(s => new Markup(s)).ToArray());
            }
            console.Write(table);
        }
        console.MarkupLine("#n = place in that method's order; * = selected. arl = sum of per-reward ranks (the paper's Assemble Reward-ranked Learning); ties share the mean rank and go to the lower index.");
        console.MarkupLine("Next: [bold]finerewards rank --method arl --input examples/rank/best-of-4.json[/] prints the same as JSON.");
        return doctor;
    }
}
