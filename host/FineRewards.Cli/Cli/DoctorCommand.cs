using System.CommandLine;
using System.Text.Json;
using FineRewards.Core.Packs;
using FineRewards.Cli.Doctor;
using Spectre.Console;

namespace FineRewards.Cli.Cli;

/// <summary>`finerewards doctor`: what this machine can run, and what to fix.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("doctor", "Check the runtime, libtorch, ONNX Runtime, LLamaSharp, fonts, GPU and model packs. Exits 1 if something required is broken.")
        {
            json,
        };
        command.SetAction(parse => Run(parse.GetValue(json), Console.Out));
        return command;
    }

    public static int Run(bool asJson, TextWriter output)
    {
        var checks = Diagnostics.RunAll(PackLocator.Default());
        bool healthy = checks.All(c => !(c.Required && c.Status == CheckStatus.Failed));
        if (asJson)
        {
            var doc = new
            {
                healthy,
                checks = checks.Select(c => new
                {
                    name = c.Name,
                    status = c.Status.ToString().ToLowerInvariant(),
                    required = c.Required,
                    summary = c.Summary,
                    facts = c.Facts,
                    fix = c.Fix,
                }),
            };
            output.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            var table = new Table().AddColumn("check").AddColumn("status").AddColumn("details");
            foreach (var c in checks)
            {
                string status = c.Status switch
                {
                    CheckStatus.Ok => "[green]ok[/]",
                    CheckStatus.Warning => "[yellow]warning[/]",
                    _ => c.Required ? "[red]FAILED[/]" : "[yellow]failed (optional)[/]",
                };
                var details = new List<string> { Markup.Escape(c.Summary) };
                details.AddRange(c.Facts.Select(f => Markup.Escape($"{f.Key}: {f.Value}")));
                if (c.Fix is not null && c.Status != CheckStatus.Ok) details.Add("[bold]fix:[/] " + Markup.Escape(c.Fix));
                table.AddRow(new Markup(c.Name), new Markup(status), new Markup(string.Join("\n", details)));
            }
            console.Write(table);
            console.MarkupLine(healthy ? "[green]All required checks passed.[/]" : "[red]A required check failed; see the fixes above.[/]");
        }
        return healthy ? CliErrors.Ok : CliErrors.Failed;
    }
}
