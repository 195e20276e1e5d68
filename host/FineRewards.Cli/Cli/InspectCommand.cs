using System.CommandLine;
using FineRewards.Contracts;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.Inspect;
using FineRewards.Diffusion.IO;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards inspect`: parameter counts of a Stable Diffusion architecture (`--arch`), or what a user's
/// model holds (`--model` a single-file checkpoint or a diffusers folder: family, configs, counts, dtypes,
/// unknown and missing keys). Both build on the meta device (no weights, no memory).
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var arch = new Option<string?>("--arch")
        {
            Description = $"Architecture: {string.Join(" or ", ArchitectureInspector.Architectures)}.",
        };
        var model = new Option<string?>("--model") { Description = "A single-file checkpoint (.safetensors) or a diffusers folder to inspect instead of --arch." };
        var json = new Option<bool>("--json") { Description = "Print the counts as JSON." };
        var keys = new Option<bool>("--keys") { Description = "Also list every state-dict key and shape (diffusers names)." };
        var command = new Command("inspect", "Count the parameters of each component of an architecture (--arch) or of a model file or folder (--model, with its family, configs, dtypes, unknown and missing keys).")
        {
            arch, model, json, keys,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string? archName = parse.GetValue(arch), modelPath = parse.GetValue(model);
            if ((archName is null) == (modelPath is null)) throw new InputException("--arch", "give exactly one of --arch NAME or --model FILE|DIR");
            if (modelPath is not null)
            {
                var inspection = Inspect(modelPath);
                Console.Out.WriteLine(parse.GetValue(json) ? ToJson(inspection) : ToText(inspection));
                return inspection.Missing.Count == 0 && inspection.Unknown.Count == 0 ? CliErrors.Ok : CliErrors.BadInput;
            }
            var report = ArchitectureInspector.Inspect(archName!);
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

    /// <summary>Inspects a model; an unreadable file is bad input naming it.</summary>
    public static ModelInspection Inspect(string path)
    {
        try
        {
            return ModelInspector.Inspect(path);
        }
        catch (Exception e) when (e is InvalidDataException or CheckpointMismatchException)
        {
            throw new InputException(path, e.Message);
        }
    }

    public static string ToText(ModelInspection m)
    {
        var lines = new List<string>
        {
            $"{m.Path} ({m.Format}), family {m.Family}, prediction_type {m.Config["prediction_type"]}",
            "dtype: " + string.Join(", ", m.Dtypes.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key} ({d.Value} tensors)")),
        };
        int width = m.Components.Max(c => c.Name.Length);
        foreach (var c in m.Components)
            lines.Add($"{c.Name.PadRight(width)}  {c.Parameters,15:N0}  {c.Tensors,5} tensors  ({c.ModelClass})");
        lines.Add($"{"total".PadRight(width)}  {m.Components.Sum(c => c.Parameters),15:N0}");
        var unet = m.Config["unet"]!;
        var vae = m.Config["vae"]!;
        var text = m.Config["text_encoder"]!;
        lines.Add($"unet: in/out {unet["in_channels"]}/{unet["out_channels"]}, block_out_channels {unet["block_out_channels"]!.ToJsonString()}, " +
                  $"layers_per_block {unet["layers_per_block"]!.ToJsonString()}, attention_head_dim {unet["attention_head_dim"]!.ToJsonString()}, " +
                  $"cross_attention_dim {unet["cross_attention_dim"]!.ToJsonString()}, use_linear_projection {unet["use_linear_projection"]}, " +
                  $"down {unet["down_block_types"]!.ToJsonString()}");
        lines.Add($"vae: block_out_channels {vae["block_out_channels"]!.ToJsonString()}, layers_per_block {vae["layers_per_block"]}, latent_channels {vae["latent_channels"]}, scaling_factor {vae["scaling_factor"]}");
        lines.Add($"text_encoder: hidden_size {text["hidden_size"]}, layers {text["num_hidden_layers"]}, heads {text["num_attention_heads"]}, " +
                  $"{text["hidden_act"]}, vocab_size {text["vocab_size"]}, max_position_embeddings {text["max_position_embeddings"]}");
        foreach (var a in m.Assumed) lines.Add($"assumed: {a.Field} = {a.Value} ({a.Why})");
        if (m.Ignored > 0) lines.Add($"ignored: {m.Ignored} tensor(s) that are not weights (schedule buffers, EMA copies, position_ids, unused OpenCLIP parts)");
        lines.Add(m.Unknown.Count == 0 ? "unknown keys: none" : $"unknown keys ({m.Unknown.Count}):");
        lines.AddRange(m.Unknown.Select(k => "  " + k));
        lines.Add(m.Missing.Count == 0 ? "missing keys: none" : $"missing keys ({m.Missing.Count}):");
        lines.AddRange(m.Missing.Select(k => "  " + k));
        return string.Join('\n', lines);
    }

    public static string ToJson(ModelInspection m)
    {
        var root = new JsonObject
        {
            ["path"] = m.Path,
            ["format"] = m.Format,
            ["family"] = m.Family,
            ["components"] = new JsonArray(m.Components.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name, ["class"] = c.ModelClass, ["parameters"] = c.Parameters, ["tensors"] = c.Tensors,
            }).ToArray()),
            ["total"] = m.Components.Sum(c => c.Parameters),
            ["dtypes"] = new JsonObject(m.Dtypes.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => KeyValuePair.Create(d.Key, (JsonNode?)d.Value))),
            ["config"] = m.Config.DeepClone(),
            ["assumed"] = new JsonArray(m.Assumed.Select(a => (JsonNode)new JsonObject { ["field"] = a.Field, ["value"] = a.Value, ["why"] = a.Why }).ToArray()),
            ["ignored"] = m.Ignored,
            ["unknown"] = new JsonArray(m.Unknown.Select(k => (JsonNode)k).ToArray()),
            ["missing"] = new JsonArray(m.Missing.Select(k => (JsonNode)k).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
