using System.Text.Json;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Inspect;
using FineRewards.Diffusion.Pipelines;

namespace FineRewards.Cli.Packs;

/// <summary>
/// A pack folder for a user's Stable Diffusion model: pack.json names the checkpoint (a single file or a
/// diffusers folder, never copied into the pack) as component "diffusion", and optionally the reward
/// models ("clip", "sam", "captioner", "detector") and the judge ("judge"). Paths inside the pack folder are
/// relative, others absolute.
/// </summary>
public static class SdPack
{
    public const string SingleFileKind = "sd-single-file";
    public const string DiffusersKind = "diffusers";

    /// <summary>The optional parts and their kinds, as `pack create sd` writes them (the onnx reward models read the same names).</summary>
    public static readonly IReadOnlyList<(string Name, string Kind, string Option)> OptionalParts =
    [
        ("clip", "onnx-clip", "--clip"),
        ("sam", "onnx-sam", "--sam"),
        ("captioner", "onnx-captioner", "--captioner"),
        ("detector", "onnx-owlvit", "--detector"),
        ("judge", "gguf-judge", "--judge"),
    ];

    /// <summary>True when <paramref name="folder"/> holds a pack.json whose "diffusion" component is an SD checkpoint.</summary>
    public static bool IsSdPack(string folder)
    {
        var path = Path.Combine(folder, PackManifest.FileName);
        if (!File.Exists(path)) return false;
        return IsSdManifest(PackManifest.Load(path));
    }

    /// <summary>A manifest whose diffusion component is a Stable Diffusion checkpoint (single file or diffusers folder).</summary>
    public static bool IsSdManifest(PackManifest manifest) =>
        manifest.Components?.GetValueOrDefault("diffusion")?.Kind is SingleFileKind or DiffusersKind;

    /// <summary>Writes PACK/pack.json for a checkpoint and optional parts; every given path must exist.</summary>
    public static PackManifest Create(string packFolder, string checkpoint, string? predictionType, IReadOnlyDictionary<string, string> optional)
    {
        if (File.Exists(Path.Combine(packFolder, PackManifest.FileName)))
            throw new InputException("--out", $"{packFolder} already holds a {PackManifest.FileName}; choose a new folder");
        bool file = File.Exists(checkpoint);
        if (!file && !Directory.Exists(checkpoint))
            throw new InputException("--checkpoint", $"{checkpoint} does not exist (expected a .safetensors single-file checkpoint or a diffusers folder)");
        if (!file && predictionType is not null)
            throw new InputException("--prediction-type", "a diffusers folder's scheduler/scheduler_config.json gives its prediction type; the option is for single files");
        if (predictionType is not (null or "epsilon" or "v_prediction"))
            throw new InputException("--prediction-type", $"expected epsilon or v_prediction, got \"{predictionType}\"");
        foreach (var (part, path) in optional)
            if (!File.Exists(path) && !Directory.Exists(path))
                throw new InputException(OptionalParts.Single(p => p.Name == part).Option, $"{path} does not exist");

        // Checked before anything is written: a file that is not an SD checkpoint never becomes a pack.
        if (file)
        {
            try
            {
                SingleFileCheckpoint.ReadArchitecture(checkpoint, new SingleFileConfig(predictionType));
            }
            catch (InvalidDataException e)
            {
                throw new InputException("--checkpoint", e.Message);
            }
        }
        else predictionType = Diffusion.Schedulers.SchedulerConfig.FromJsonFile(StableDiffusionFolder.Resolve(checkpoint).SchedulerConfigPath).PredictionType;

        Directory.CreateDirectory(packFolder);
        string name = Path.GetFileName(Path.GetFullPath(packFolder).TrimEnd(Path.DirectorySeparatorChar));
        var config = JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["prediction_type"] = predictionType ?? "epsilon" });
        PackManifest manifest = PackManifest.UpdateComponent(packFolder, name, "diffusion",
            new PackComponent(file ? SingleFileKind : DiffusersKind, PackComponents.Stored(packFolder, checkpoint), config),
            $"Stable Diffusion pack for {Path.GetFileName(checkpoint)}");
        foreach (var (part, kind, _) in OptionalParts)
            if (optional.TryGetValue(part, out var path))
                manifest = PackManifest.UpdateComponent(packFolder, name, part, new PackComponent(kind, PackComponents.Stored(packFolder, path)));
        return manifest;
    }

    /// <summary>The pack's diffusion checkpoint: its path, kind and config override (pack.json), checked to exist.</summary>
    static (string Path, string Kind, SingleFileConfig Config) Checkpoint(string packFolder)
    {
        var manifest = PackManifest.Load(Path.Combine(packFolder, PackManifest.FileName));
        var diffusion = manifest.Components?.GetValueOrDefault("diffusion")
            ?? throw new InputException(packFolder, $"{PackManifest.FileName} has no \"diffusion\" component");
        string path = PackComponents.Resolve(packFolder, diffusion.Path);
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new InputException(packFolder, $"the diffusion checkpoint {path} named in {PackManifest.FileName} does not exist");
        var config = SingleFileConfig.FromJsonElement(diffusion.Config, $"{Path.Combine(packFolder, PackManifest.FileName)}: components.diffusion.config");
        return (path, diffusion.Kind, config);
    }

    /// <summary>The checkpoint's native image side from its headers and configs, without loading its weights.</summary>
    public static int NativeSide(string packFolder)
    {
        var (path, _, config) = Checkpoint(packFolder);
        try { return ModelInspector.NativeSide(path, config); }
        catch (Exception e) when (e is CheckpointMismatchException or InvalidDataException or FileNotFoundException)
        {
            throw new InputException(path, e.Message);
        }
    }

    /// <summary>Loads the pack's diffusion model as a pipeline (a single file with the pack's config).</summary>
    public static StableDiffusionPipeline LoadPipeline(string packFolder, PipelineOptions options)
    {
        var (path, kind, config) = Checkpoint(packFolder);
        try
        {
            return kind == SingleFileKind
                ? SingleFilePipeline.Load(path, config, options)
                : StableDiffusionPipeline.FromDiffusersFolder(path, options);
        }
        catch (Exception e) when (e is CheckpointMismatchException or InvalidDataException or FileNotFoundException)
        {
            throw new InputException(path, e.Message);
        }
    }
}
