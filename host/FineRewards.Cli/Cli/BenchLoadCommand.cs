using System.CommandLine;
using FineRewards.Contracts;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Diffusion.Checkpoints;
using static TorchSharp.torch;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `finerewards bench load`: time and peak memory of loading a single-file checkpoint into the models,
/// against the memory the loaded parameters themselves take (streaming should add about one tensor).
/// </summary>
public static class BenchLoadCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A single-file checkpoint (.safetensors).", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16 (the CPU's choices).", DefaultValueFactory = _ => "float32" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("load", "Load a single-file checkpoint (streamed tensor by tensor) and report seconds and peak memory.") { model, dtype, json };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var type = parse.GetValue(dtype) switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                var other => throw new InputException("--dtype", $"expected float32 or bfloat16, got \"{other}\""),
            };
            string path = parse.GetValue(model)!;
            using (ones(1)) { }   // libtorch loaded before the baseline
            var process = Process.GetCurrentProcess();
            process.Refresh();
            long before = process.WorkingSet64;
            var clock = Stopwatch.StartNew();
            SingleFileModels models;
            try
            {
                models = SingleFileCheckpoint.Load(path, dtype: type);
            }
            catch (Exception e) when (e is InvalidDataException or Diffusion.IO.CheckpointMismatchException)
            {
                throw new InputException(path, e.Message);
            }
            using (models)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                process.Refresh();
                long parameterBytes = new TorchSharp.torch.nn.Module[] { models.Unet, models.Vae, models.TextEncoder }
                    .Sum(m => m.parameters().Sum(p => p.numel() * p.ElementSize));
                var result = new JsonObject
                {
                    ["model"] = Path.GetFullPath(path),
                    ["file_mib"] = Math.Round(new FileInfo(path).Length / 1048576.0, 1),
                    ["dtype"] = type.ToString(),
                    ["load_seconds"] = Math.Round(seconds, 2),
                    ["parameters_mib"] = Math.Round(parameterBytes / 1048576.0, 1),
                    ["working_set_before_mib"] = Math.Round(before / 1048576.0, 1),
                    ["peak_working_set_mib"] = Math.Round(process.PeakWorkingSet64 / 1048576.0, 1),
                };
                Console.Out.WriteLine(parse.GetValue(json)
                    ? result.ToJsonString(new JsonSerializerOptions { WriteIndented = true })
                    : $"{result["model"]} ({result["file_mib"]} MiB) as {type}: loaded in {result["load_seconds"]} s; parameters {result["parameters_mib"]} MiB; " +
                      $"working set before {result["working_set_before_mib"]} MiB, peak {result["peak_working_set_mib"]} MiB");
            }
            return CliErrors.Ok;
        }));
        return command;
    }
}
