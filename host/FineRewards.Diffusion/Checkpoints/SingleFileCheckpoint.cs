using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Inspect;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.TextEncoder;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Checkpoints;

/// <summary>The three models of a single file, loaded. Owns them.</summary>
public sealed record SingleFileModels(UNet2DConditionModel Unet, AutoencoderKL Vae, ClipTextModel TextEncoder, SingleFileArchitecture Architecture) : IDisposable
{
    public void Dispose()
    {
        Unet.Dispose();
        Vae.Dispose();
        TextEncoder.Dispose();
    }
}

/// <summary>One file tensor and the module tensor(s) it fills.</summary>
public sealed record PlannedTensor(SafetensorsEntry Entry, IReadOnlyList<(KeyTarget Target, Tensor Parameter)> Targets);

/// <summary>
/// What a checkpoint's tensors do against the models its architecture builds: the tensors that load, the
/// ones ignored on purpose, the ones with no place (unknown) and the model tensors nothing fills (missing).
/// </summary>
public sealed record LoadPlan(IReadOnlyList<PlannedTensor> Tensors, IReadOnlyList<string> Ignored, IReadOnlyList<string> Unknown,
    IReadOnlyList<string> Missing, IReadOnlyList<string> Problems)
{
    public bool Complete => Unknown.Count == 0 && Missing.Count == 0 && Problems.Count == 0;

    public IReadOnlyList<string> AllProblems() =>
        [.. Problems, .. Unknown.Select(k => $"unknown tensor {k}: no place in an SD 1.x/2.x model"), .. Missing.Select(k => $"missing tensor for {k}")];
}

/// <summary>
/// Loads Stable Diffusion 1.x/2.x single-file checkpoints (.safetensors in the original
/// latent-diffusion key layout, as AUTOMATIC1111, ComfyUI and model sites distribute them) straight
/// into our UNet, VAE and CLIP text encoder: the architecture is inferred from the tensor shapes
/// (<see cref="SingleFileArchitecture"/>), each key is mapped to its module tensor
/// (<see cref="SingleFileKeys"/>), and tensors are streamed from the file one at a time into the
/// already-built modules, so the checkpoint is never held in memory beside the model.
/// </summary>
public static class SingleFileCheckpoint
{
    /// <summary>Weight dtypes a checkpoint may store.</summary>
    public static readonly IReadOnlyList<string> WeightDtypes = ["F16", "BF16", "F32"];

    /// <summary>True when <paramref name="path"/> is a file (a single-file checkpoint) rather than a diffusers folder.</summary>
    public static bool IsSingleFile(string path) => File.Exists(path);

    /// <summary>The dtype models are built in when none is asked for: fp16 on a GPU, fp32 on the CPU.</summary>
    public static ScalarType DefaultDtype(Device device) => device.type == TorchSharp.DeviceType.CUDA ? ScalarType.Float16 : ScalarType.Float32;

    /// <summary>Reads the header and infers the architecture, without loading any weight.</summary>
    public static SingleFileArchitecture ReadArchitecture(string path, SingleFileConfig? config = null)
    {
        using var reader = Open(path);
        return SingleFileArchitecture.Infer(Shapes(reader), path, config);
    }

    /// <summary>
    /// Loads the three models. Nothing is allocated before the header, the architecture and the dtypes
    /// check out, and on any later failure every built module is disposed: a bad file leaves nothing behind.
    /// </summary>
    /// <param name="dtype">Float32, BFloat16 (CPU or GPU) or Float16 (GPU only); default <see cref="DefaultDtype"/>.</param>
    /// <exception cref="InputException">Not an SD 1.x/2.x checkpoint, or wrong dtypes (names the file and what was expected).</exception>
    /// <exception cref="InvalidDataException">Not a safetensors file, or truncated.</exception>
    /// <exception cref="CheckpointMismatchException">Tensors missing, unknown or of the wrong shape (every one listed).</exception>
    public static SingleFileModels Load(string path, SingleFileConfig? config = null, Device? device = null, ScalarType? dtype = null)
    {
        device ??= CPU;
        var type = dtype ?? DefaultDtype(device);
        if (type is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new InputException("dtype", $"models are built in float32, bfloat16 or float16, not {type}");
        if (type == ScalarType.Float16 && device.type == TorchSharp.DeviceType.CPU)
            throw new InputException("dtype", "float16 runs on a GPU only; on the CPU choose float32 or bfloat16");

        using var reader = Open(path);
        var architecture = SingleFileArchitecture.Infer(Shapes(reader), path, config);
        CheckDtypes(reader, architecture);

        SingleFileModels? models = null;
        try
        {
            models = Build(architecture, device, type);
            var plan = Plan(reader.Entries, architecture, models);
            if (!plan.Complete) throw new CheckpointMismatchException(path, plan.AllProblems());
            Stream(reader, plan);
            models.Unet.eval();
            models.Vae.eval();
            models.TextEncoder.eval();
            return models;
        }
        catch
        {
            models?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds the models of an architecture on the default device (meta under <see cref="ArchitectureInspector.OnMeta"/>),
    /// or on the CPU in float32 and then, one component at a time, in <paramref name="dtype"/> on <paramref name="device"/>.
    /// </summary>
    /// <remarks>
    /// Not by switching TorchSharp's default dtype or device: both are process-wide, and other threads
    /// (a job generating while a pack loads) would create their tensors in them. So the largest component
    /// exists once in float32 on the CPU while it is converted (the UNet: 3.3 GiB for SD 1.5).
    /// </remarks>
    public static SingleFileModels Build(SingleFileArchitecture architecture, Device? device = null, ScalarType? dtype = null)
    {
        T Place<T>(T module) where T : nn.Module
        {
            if (dtype is ScalarType t && t != ScalarType.Float32)
            {
                module.to(t);
                // The float32 tensors it replaced are freed by their finalisers; run them now, before the next component.
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            if (device is not null && device.type != TorchSharp.DeviceType.CPU) module.to(device);
            return module;
        }
        UNet2DConditionModel? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            unet = Place(new UNet2DConditionModel(architecture.Unet));
            vae = Place(new AutoencoderKL(architecture.Vae));
            return new SingleFileModels(unet, vae, Place(new ClipTextModel(architecture.TextEncoder)), architecture);
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            throw;
        }
    }

    /// <summary>Matches every file tensor to its module tensor(s) and every module tensor to one file tensor, with shapes.</summary>
    /// <param name="entries">The file's tensors (a header is enough: nothing is read).</param>
    public static LoadPlan Plan(IEnumerable<SafetensorsEntry> entries, SingleFileArchitecture architecture, SingleFileModels models)
    {
        var stateDicts = new Dictionary<SdComponent, IReadOnlyDictionary<string, Tensor>>
        {
            [SdComponent.Unet] = models.Unet.state_dict(),
            [SdComponent.Vae] = models.Vae.state_dict(),
            [SdComponent.TextEncoder] = models.TextEncoder.state_dict(),
        };
        var filled = new Dictionary<(SdComponent, string), string>();
        var planned = new List<PlannedTensor>();
        List<string> ignored = [], unknown = [], problems = [];
        foreach (var entry in entries)
        {
            if (SingleFileKeys.IsIgnored(entry.Name, architecture.OpenClipLayers)) { ignored.Add(entry.Name); continue; }
            var targets = SingleFileKeys.Map(entry.Name, architecture.LayersPerBlock, architecture.VaeBlocks, architecture.TextEncoder.HiddenSize);
            if (targets is null || targets.Any(t => !stateDicts[t.Component].ContainsKey(t.Key))) { unknown.Add(entry.Name); continue; }
            var resolved = new List<(KeyTarget, Tensor)>();
            foreach (var target in targets)
            {
                var parameter = stateDicts[target.Component][target.Key];
                if (filled.TryGetValue((target.Component, target.Key), out var other))
                    problems.Add($"tensor {entry.Name} and {other} both map to {Name(target)}");
                filled[(target.Component, target.Key)] = entry.Name;
                if (!Fits(entry.Shape, target, parameter.shape))
                    problems.Add($"tensor {entry.Name}: shape {StateDictLoader.Shape(entry.Shape)} does not fit {Name(target)} {StateDictLoader.Shape(parameter.shape)}");
                resolved.Add((target, parameter));
            }
            planned.Add(new PlannedTensor(entry, resolved));
        }
        var missing = stateDicts.SelectMany(c => c.Value.Keys.Where(k => !filled.ContainsKey((c.Key, k))).Select(k => Name(new KeyTarget(c.Key, k)))).ToList();
        return new LoadPlan(planned, ignored, unknown, missing, problems);
    }

    static string Name(KeyTarget t) =>
        (t.Component switch { SdComponent.Unet => "unet.", SdComponent.Vae => "vae.", _ => "text_encoder." }) + t.Key
        + (t.Rows is { } r ? $" (rows {r.Start}..{r.Start + r.Length - 1})" : "");

    /// <summary>
    /// A file shape fits a module tensor when equal, when a slice of rows of it is (fused q/k/v), or when it
    /// only adds trailing 1x1 dims (the VAE's attention projections are 1x1 convolutions in the original code).
    /// </summary>
    static bool Fits(long[] file, KeyTarget target, long[] module)
    {
        if (target.Rows is { } rows)
        {
            if (file.Length == 0 || rows.Start + rows.Length > file[0]) return false;
            file = [rows.Length, .. file[1..]];
        }
        if (file.SequenceEqual(module)) return true;
        return file.Length > module.Length && file[..module.Length].SequenceEqual(module) && file[module.Length..].All(d => d == 1);
    }

    static void CheckDtypes(SafetensorsReader reader, SingleFileArchitecture architecture)
    {
        var wrong = reader.Entries
            .Where(e => !SingleFileKeys.IsIgnored(e.Name, architecture.OpenClipLayers) && !WeightDtypes.Contains(e.Dtype))
            .ToList();
        if (wrong.Count > 0)
            throw new InputException(reader.Path, $"{wrong.Count} weight tensor(s) have a dtype this loader does not read, expected {string.Join(", ", WeightDtypes)}: " +
                string.Join(", ", wrong.Take(5).Select(e => $"{e.Name} is {e.Dtype}")) + (wrong.Count > 5 ? ", ..." : ""));
    }

    /// <summary>Copies each file tensor into its module tensor(s), one at a time, converting dtype and device on the way.</summary>
    static void Stream(SafetensorsReader reader, LoadPlan plan)
    {
        using var _ = no_grad();
        foreach (var tensor in plan.Tensors)
        {
            using var scope = NewDisposeScope();
            var data = reader.Read(tensor.Entry);
            foreach (var (target, parameter) in tensor.Targets)
            {
                var source = target.Rows is { } rows ? data.narrow(0, rows.Start, rows.Length) : data;
                parameter.copy_(source.reshape(parameter.shape));
            }
        }
    }

    static SafetensorsReader Open(string path)
    {
        if (Directory.Exists(path)) throw new InputException(path, "is a folder; a single-file checkpoint is one .safetensors file");
        if (!File.Exists(path)) throw new InputException(path, "checkpoint file does not exist");
        if (path.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pt", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
            throw new InputException(path, "pickle checkpoints (.ckpt, .pt, .bin) are not read (they can run code); use the .safetensors version of the model");
        return new SafetensorsReader(path);
    }

    internal static Dictionary<string, long[]> Shapes(SafetensorsReader reader) =>
        reader.Entries.ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal);
}
