using System.Text.Json.Nodes;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;

namespace FineRewards.Diffusion.Tests.Checkpoints;

/// <summary>The single-file fixtures (see Fixtures/single-file/README.md) and what the tests build from them.</summary>
public static class SingleFileFixture
{
    public static string TinyFile => Fixture.Path("single-file", "tiny_sd1_single_file.safetensors");
    public static string TinyOutputs => Fixture.Path("single-file", "tiny_sd1_single_file_outputs.safetensors");
    public static JsonObject TinyConfigs => JsonNode.Parse(File.ReadAllText(Fixture.Path("single-file", "tiny_sd1_single_file_configs.json")))!.AsObject();

    /// <summary>
    /// The tiny file's configs as the override a user would give: the diffusers configs it was made with,
    /// and the tiny CLIP's 4 heads. Heads and GroupNorm groups are not stored in any single file, and this
    /// test model's (2 heads, 4 groups) follow no published SD config, so they cannot be inferred.
    /// </summary>
    public static SingleFileConfig TinyOverride => new(
        Unet: TinyConfigs["unet"]!.AsObject(),
        Vae: TinyConfigs["vae"]!.AsObject(),
        TextEncoder: new JsonObject { ["num_attention_heads"] = 4 });

    /// <summary>A key table (ldm key, shape, component, diffusers key(s)) as header entries and the expected targets.</summary>
    public static (List<SafetensorsEntry> Entries, Dictionary<string, string> Diffusers) KeyTable(string file)
    {
        var entries = new List<SafetensorsEntry>();
        var diffusers = new Dictionary<string, string>();
        foreach (var line in File.ReadAllLines(Fixture.Path("single-file", file)))
        {
            if (line.StartsWith('#') || line.Length == 0) continue;
            var cols = line.Split('\t');
            long[] shape = cols[1].Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
            entries.Add(new SafetensorsEntry(cols[0], "F16", shape, 0, 0));
            diffusers[cols[0]] = cols[2] + ":" + cols[3];
        }
        return (entries, diffusers);
    }
}
