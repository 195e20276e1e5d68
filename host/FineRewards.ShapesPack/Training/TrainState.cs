using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Diffusion.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Training;

/// <summary>Progress of a resumable training run, kept next to its checkpoint in the work folder.</summary>
public sealed record TrainState(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("minutes")] double Minutes,
    [property: JsonPropertyName("data_seed")] long DataSeed,
    [property: JsonPropertyName("last_loss")] double LastLoss,
    [property: JsonPropertyName("commands")] IReadOnlyList<string>? Commands = null)
{
    /// <summary>The command lines of every run that contributed to this checkpoint, in order (a resumed run adds its own).</summary>
    public IReadOnlyList<string> WithCommand(string command) =>
        Commands is { Count: > 0 } list ? (list[^1] == command ? list : [.. list, command]) : [command];
}

/// <summary>
/// Checkpoints of the pack trainers: named modules as fp32 safetensors, the optimizer's state and a
/// <see cref="TrainState"/>, all in one folder of the work area (never shipped). Written file by
/// file atomically, state.json last, so a run killed mid-save resumes from the previous state.json
/// only if its weights are complete.
/// </summary>
public static class TrainCheckpoint
{
    public static void Save(string folder, TrainState state, IReadOnlyDictionary<string, nn.Module> modules, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        Directory.CreateDirectory(folder);
        foreach (var (name, module) in modules)
            SafetensorsFile.Write(Path.Combine(folder, name + ".safetensors"), module.state_dict());
        if (optimizer is not null)
        {
            string tmp = Path.Combine(folder, "optimizer.bin.tmp");
            optimizer.save_state_dict(tmp);
            File.Move(tmp, Path.Combine(folder, "optimizer.bin"), overwrite: true);
        }
        AtomicFile.WriteAllText(Path.Combine(folder, "state.json"), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    }

    public static bool Exists(string folder) => File.Exists(Path.Combine(folder, "state.json"));

    public static TrainState Load(string folder, IReadOnlyDictionary<string, nn.Module> modules, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        string statePath = Path.Combine(folder, "state.json");
        if (!File.Exists(statePath)) throw new InputException("--resume", $"no checkpoint in {folder} (state.json missing); train without --resume first");
        var state = JsonSerializer.Deserialize<TrainState>(File.ReadAllText(statePath), new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals })
            ?? throw new InputException(statePath, "empty training state");
        foreach (var (name, module) in modules)
            StateDictLoader.LoadFile(module, Path.Combine(folder, name + ".safetensors"));
        string opt = Path.Combine(folder, "optimizer.bin");
        if (optimizer is not null && File.Exists(opt)) optimizer.load_state_dict(opt);
        return state;
    }
}
