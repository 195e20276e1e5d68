using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.TextEncoder;

namespace FineRewards.Diffusion.Inspect;

/// <summary>What one model file or folder holds, as `inspect --model` prints it.</summary>
/// <param name="Format">"single-file" or "diffusers".</param>
/// <param name="Family">"sd1" or "sd2" (from the text encoder).</param>
/// <param name="Components">The models as built (parameter counts of our modules, not of the file).</param>
/// <param name="Dtypes">Weight tensors per stored dtype.</param>
/// <param name="Config">The configs in effect: unet, vae, text_encoder (diffusers / transformers field names) and prediction_type.</param>
public sealed record ModelInspection(
    string Path,
    string Format,
    string Family,
    IReadOnlyList<(string Name, string ModelClass, long Parameters, int Tensors)> Components,
    IReadOnlyDictionary<string, int> Dtypes,
    IReadOnlyList<string> Unknown,
    IReadOnlyList<string> Missing,
    int Ignored,
    IReadOnlyList<AssumedField> Assumed,
    JsonObject Config);

/// <summary>
/// Inspects a user's model without loading its weights: reads the headers, infers or reads the
/// configs, builds the models on the meta device and matches the stored tensors against them.
/// </summary>
public static class ModelInspector
{
    public static ModelInspection Inspect(string path, SingleFileConfig? config = null) =>
        Directory.Exists(path) ? InspectFolder(path)
        : File.Exists(path) ? InspectFile(path, config)
        : throw new InputException(path, "does not exist (expected a .safetensors single-file checkpoint or a diffusers folder)");

    /// <summary>
    /// The image side the checkpoint was trained at (UNet sample_size x the VAE's downsampling), from the
    /// headers and configs alone: what a host needs at submit time without loading the weights.
    /// </summary>
    public static int NativeSide(string path, SingleFileConfig? config = null)
    {
        UNet2DConditionConfig unet;
        AutoencoderKLConfig vae;
        if (Directory.Exists(path))
        {
            var layout = StableDiffusionFolder.Resolve(path);
            unet = UNet2DConditionConfig.FromFile(DiffusersFolder.Resolve(layout.UnetFolder).ConfigPath);
            vae = AutoencoderKLConfig.FromFile(DiffusersFolder.Resolve(layout.VaeFolder).ConfigPath);
        }
        else
        {
            using var reader = new SafetensorsReader(path);
            var arch = SingleFileArchitecture.Infer(reader.Entries.ToDictionary(e => e.Name, e => e.Shape), path, config);
            (unet, vae) = (arch.Unet, arch.Vae);
        }
        return (unet.SampleSize ?? 64) * vae.DownsampleFactor;
    }

    static ModelInspection InspectFile(string path, SingleFileConfig? config)
    {
        using var reader = new SafetensorsReader(path);
        var arch = SingleFileArchitecture.Infer(reader.Entries.ToDictionary(e => e.Name, e => e.Shape), path, config);
        using var models = ArchitectureInspector.OnMeta(() => SingleFileCheckpoint.Build(arch));
        var plan = SingleFileCheckpoint.Plan(reader.Entries, arch, models);
        var dtypes = plan.Tensors.GroupBy(t => t.Entry.Dtype).ToDictionary(g => g.Key, g => g.Count());
        var components = new (string, TorchSharp.torch.nn.Module)[] { ("unet", models.Unet), ("vae", models.Vae), ("text_encoder", models.TextEncoder) }
            .Select(c => Count(c.Item1, c.Item2)).ToList();
        return new ModelInspection(Path.GetFullPath(path), "single-file", arch.Family == SdFamily.Sd1 ? "sd1" : "sd2", components, dtypes,
            [.. plan.Unknown, .. plan.Problems], plan.Missing, plan.Ignored.Count, arch.Assumed,
            Configs(arch.Unet, arch.Vae, arch.TextEncoder, arch.PredictionType));
    }

    static ModelInspection InspectFolder(string folder)
    {
        var layout = StableDiffusionFolder.Resolve(folder);
        var (unetConfigPath, unetWeights) = DiffusersFolder.Resolve(layout.UnetFolder);
        var (vaeConfigPath, vaeWeights) = DiffusersFolder.Resolve(layout.VaeFolder);
        var unetConfig = UNet2DConditionConfig.FromFile(unetConfigPath);
        var vaeConfig = AutoencoderKLConfig.FromFile(vaeConfigPath);
        var textConfig = ClipTextConfig.FromJsonFile(Path.Combine(layout.TextEncoderFolder, "config.json"));
        var prediction = Schedulers.SchedulerConfig.FromJsonFile(layout.SchedulerConfigPath).PredictionType;

        var components = new List<(string, string, long, int)>();
        var dtypes = new Dictionary<string, int>();
        List<string> unknown = [], missing = [];
        int ignored = 0;
        foreach (var (name, weights, build) in new (string, string, Func<TorchSharp.torch.nn.Module>)[]
                 {
                     ("unet", unetWeights, () => new UNet2DConditionModel(unetConfig)),
                     ("vae", vaeWeights, () => new AutoencoderKL(vaeConfig)),
                     ("text_encoder", layout.TextEncoderWeights, () => new ClipTextModel(textConfig)),
                 })
        {
            using var module = ArchitectureInspector.OnMeta(build);
            components.Add(Count(name, module));
            var header = SafetensorsFile.ReadHeader(weights);
            var expected = module.state_dict();
            foreach (var (key, (dtype, shape)) in header.Tensors)
            {
                if (key == ClipTextModel.LegacyPositionIdsKey) { ignored++; continue; }
                if (!expected.TryGetValue(key, out var target)) { unknown.Add($"{name}: {key}"); continue; }
                if (!target.shape.SequenceEqual(shape))
                    unknown.Add($"{name}: {key} has shape {StateDictLoader.Shape(shape)}, the model {StateDictLoader.Shape(target.shape)}");
                dtypes[dtype] = dtypes.GetValueOrDefault(dtype) + 1;
            }
            missing.AddRange(expected.Keys.Where(k => !header.Tensors.ContainsKey(k)).Select(k => $"{name}.{k}"));
        }
        string family = textConfig.HiddenAct == "gelu" ? "sd2" : "sd1";
        return new ModelInspection(layout.Root, "diffusers", family, components, dtypes, unknown, missing, ignored, [],
            Configs(unetConfig, vaeConfig, textConfig, prediction));
    }

    static (string, string, long, int) Count(string name, TorchSharp.torch.nn.Module module)
    {
        var state = module.state_dict();
        return (name, module.GetType().Name, state.Values.Sum(t => t.numel()), state.Count);
    }

    static JsonObject Configs(UNet2DConditionConfig unet, AutoencoderKLConfig vae, ClipTextConfig text, string prediction)
    {
        JsonObject Node(object value) => StableDiffusionFolderWriter.ConfigNode(value);
        return new JsonObject { ["unet"] = Node(unet), ["vae"] = Node(vae), ["text_encoder"] = Node(text), ["prediction_type"] = prediction };
    }
}
