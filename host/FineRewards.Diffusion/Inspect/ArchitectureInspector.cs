using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.TextEncoder;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Inspect;

/// <summary>One state-dict entry: diffusers key and shape.</summary>
public sealed record ParameterEntry(string Key, long[] Shape)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"{Key}\t[{string.Join(", ", Shape)}]";
}

/// <summary>The parameters of one component (unet, vae, text_encoder, ...), in state-dict order.</summary>
public sealed record ComponentReport(string Name, string ModelClass, IReadOnlyList<ParameterEntry> Parameters)
{
    public long Total => Parameters.Sum(p => p.Count);
}

public sealed record ArchitectureReport(string Architecture, IReadOnlyList<ComponentReport> Components)
{
    public long Total => Components.Sum(c => c.Total);
}

/// <summary>A component of a pipeline and how to build it (any device; the inspector builds it on meta).</summary>
public sealed record NamedComponent(string Name, Func<nn.Module> Build);

/// <summary>
/// Counts parameters and lists state-dict keys/shapes of whole architectures without allocating
/// their weights: the modules are built on libtorch's "meta" device, where tensors have shapes
/// but no storage, so an 860M-parameter UNet costs next to no memory.
/// </summary>
public static class ArchitectureInspector
{
    public static IReadOnlyList<string> Architectures { get; } = ["sd15", "sd21"];

    /// <summary>The components of a known architecture. This is the one place to add components.</summary>
    public static IReadOnlyList<NamedComponent> ComponentsOf(string architecture) => architecture switch
    {
        "sd15" =>
        [
            new("unet", () => new UNet2DConditionModel(UNet2DConditionConfig.Sd15)),
            new("vae", () => new AutoencoderKL(AutoencoderKLConfig.SdVae)),
            new("text_encoder", () => new ClipTextModel(ClipTextConfig.VitL14)),
        ],
        "sd21" =>
        [
            new("unet", () => new UNet2DConditionModel(UNet2DConditionConfig.Sd21)),
            new("vae", () => new AutoencoderKL(AutoencoderKLConfig.SdVae)),
            new("text_encoder", () => new ClipTextModel(ClipTextConfig.OpenClipVitH)),
        ],
        _ => throw new InputException("--arch", $"unknown architecture '{architecture}' (known: {string.Join(", ", Architectures)})"),
    };

    /// <param name="extra">further components to inspect with the known ones (e.g. a text encoder)</param>
    public static ArchitectureReport Inspect(string architecture, IEnumerable<NamedComponent>? extra = null)
    {
        var components = ComponentsOf(architecture).Concat(extra ?? []);
        return new ArchitectureReport(architecture, components.Select(c => InspectComponent(c.Name, c.Build)).ToList());
    }

    /// <summary>Builds one component on the meta device and reads its state dict.</summary>
    public static ComponentReport InspectComponent(string name, Func<nn.Module> build)
    {
        using var module = OnMeta(build);
        var parameters = module.state_dict().Select(kv => new ParameterEntry(kv.Key, kv.Value.shape)).ToList();
        return new ComponentReport(name, module.GetType().Name, parameters);
    }

    private static readonly Lock DefaultDeviceLock = new();

    /// <summary>
    /// Runs a module constructor with meta as the default device. The default device is
    /// process-wide in TorchSharp, so it is restored at once and constructions are serialised.
    /// </summary>
    public static T OnMeta<T>(Func<T> build)
    {
        lock (DefaultDeviceLock)
        {
            var previous = get_default_device();
            set_default_device(device(TorchSharp.DeviceType.META));
            try
            {
                return build();
            }
            finally
            {
                set_default_device(previous);
            }
        }
    }
}
