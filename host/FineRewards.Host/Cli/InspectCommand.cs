using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Diffusion.Inspect;

namespace FineRewards.Host.Cli;

/// <summary>`finerewards inspect`: parameter counts of a Stable Diffusion architecture, built on the meta device (no weights, no memory).</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch")
        {
            Description = $"Architecture: {string.Join(" or ", ArchitectureInspector.Architectures)}.",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the counts as JSON." };
        var keys = new Option<bool>("--keys") { Description = "Also list every state-dict key and shape (diffusers names)." };
        var command = new Command("inspect", "Count the parameters of each component of an architecture and optionally list its state-dict keys.")
        {
            arch, json, keys,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var report = ArchitectureInspector.Inspect(parse.GetValue(arch)!);
            Console.Out.WriteLine(parse.GetValue(json) ? ToJson(report, parse.GetValue(keys)) : ToText(report, parse.GetValue(keys)));
            return CliErrors.Ok;
        }));
        return command;
    }

    public static string ToText(ArchitectureReport report, bool withKeys)
    {
        var lines = new List<string> { $"{report.Architecture}: {report.Total:N0} parameters" };
        int width = report.Components.Max(c => c.Name.Length);
        foreach (var c in report.Components)
            lines.Add($"  {c.Name.PadRight(width)}  {c.Total,15:N0}  {c.Parameters.Count,5} tensors  ({c.ModelClass})");
        if (withKeys)
            foreach (var c in report.Components)
            {
                lines.Add($"# {c.Name}");
                lines.AddRange(c.Parameters.Select(p => p.ToString()));
            }
        return string.Join('\n', lines);
    }

    public static string ToJson(ArchitectureReport report, bool withKeys)
    {
        var components = new JsonArray();
        foreach (var c in report.Components)
        {
            var node = new JsonObject
            {
                ["name"] = c.Name,
                ["class"] = c.ModelClass,
                ["tensors"] = c.Parameters.Count,
                ["parameters"] = c.Total,
            };
            if (withKeys)
                node["keys"] = new JsonArray(c.Parameters.Select(p => (JsonNode)new JsonObject
                {
                    ["key"] = p.Key,
                    ["shape"] = new JsonArray(p.Shape.Select(s => (JsonNode)s).ToArray()),
                }).ToArray());
            components.Add(node);
        }
        var root = new JsonObject
        {
            ["architecture"] = report.Architecture,
            ["components"] = components,
            ["total"] = report.Total,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
