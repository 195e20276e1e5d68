using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core.IO;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>Writes model folders in the diffusers / transformers layout, so generic loaders read them.</summary>
public static class DiffusersExport
{
    public const string DiffusersVersion = "0.30.0";

    /// <summary>The config record as JSON with the extra keys diffusers or transformers write.</summary>
    public static JsonObject ConfigNode<T>(T config, IReadOnlyDictionary<string, JsonNode?>? extra = null)
    {
        var node = JsonSerializer.SerializeToNode(config, ConfigJson.Options)!.AsObject();
        // Computed C# properties (HeadDim, Blocks, IsVPrediction, ...) are not config keys: those are snake_case.
        foreach (var key in node.Select(kv => kv.Key).Where(k => k.Any(char.IsUpper)).ToList()) node.Remove(key);
        if (extra is not null)
            foreach (var (k, v) in extra) node[k] = v?.DeepClone();
        return node;
    }

    /// <summary>config.json + weights (fp16 when <paramref name="half"/>) in <paramref name="folder"/>.</summary>
    public static void WriteComponent(string folder, JsonObject config, nn.Module module, string weightsName, bool half)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        using var scope = NewDisposeScope();
        var tensors = module.state_dict().ToDictionary(kv => kv.Key, kv => half ? kv.Value.detach().to_type(ScalarType.Float16) : kv.Value.detach());
        SafetensorsFile.Write(Path.Combine(folder, weightsName), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    public static void WriteJson(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
