using System.Runtime.InteropServices;
using FineRewards.Core.Packs;
using FineRewards.Cli.Packs;
using FineRewards.Diffusion.Runtime;
using FineRewards.Judge.Runtime;
using FineRewards.Rewards.Runtime;

namespace FineRewards.Cli.Doctor;

/// <summary>Runs every environment check `finerewards doctor` reports.</summary>
public static class Diagnostics
{
    /// <summary>The pack the product runs on when the user names none.</summary>
    public const string DefaultPack = "shapes";

    public static IReadOnlyList<DoctorCheck> RunAll(PackLocator packs)
    {
        var torch = TorchProbe.Probe(convolutions: true);
        return new[]
        {
            Runtime(),
            Torch(torch),
            Onnx(),
            Llama(),
            Fonts(),
            Gpu(torch),
            Packs(packs),
        };
    }

    static Dictionary<string, string> Facts(params (string Key, string? Value)[] pairs) =>
        pairs.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!);

    static DoctorCheck Runtime() => new("runtime", CheckStatus.Ok, true,
        $".NET {Environment.Version} on {RuntimeInformation.OSDescription}",
        Facts((".net", Environment.Version.ToString()),
              ("os", RuntimeInformation.OSDescription),
              ("architecture", RuntimeInformation.ProcessArchitecture.ToString()),
              ("cpus", Environment.ProcessorCount.ToString())));

    static DoctorCheck Torch(TorchInfo info)
    {
        if (!info.Loaded)
            return new("libtorch", CheckStatus.Failed, true, "TorchSharp cannot load libtorch",
                Facts(("error", info.Error)),
                "Rebuild so the GLIBCXX patch step runs (docs/building.md), or install a libstdc++ with GLIBCXX_3.4.32.");
        var facts = Facts(("threads", info.Threads.ToString()), ("cuda", info.CudaAvailable.ToString().ToLowerInvariant()),
            ("convolution_error", info.ConvolutionError.ToString("E2", System.Globalization.CultureInfo.InvariantCulture)),
            (OneDnnIsa.Variable.ToLowerInvariant(), OneDnnIsa.Cap));
        // A wrong convolution draws wrong images without any error, so it fails the check.
        return info.ConvolutionError <= TorchProbe.ConvolutionTolerance
            ? new("libtorch", CheckStatus.Ok, true, $"TorchSharp loads libtorch; {info.Threads} threads; convolutions exact", facts)
            : new("libtorch", CheckStatus.Failed, true,
                $"libtorch's CPU convolution is off by {info.ConvolutionError:E2} against float64", facts,
                $"Cap oneDNN's kernels: set {OneDnnIsa.Variable}=SSE41 (or AVX) before starting (docs/building.md).");
    }

    static DoctorCheck Onnx()
    {
        var info = OnnxProbe.Probe();
        return info.Loaded
            ? new("onnxruntime", CheckStatus.Ok, true, $"ONNX Runtime {info.Version}; providers {string.Join(", ", info.Providers)}",
                Facts(("version", info.Version), ("providers", string.Join(",", info.Providers))))
            : new("onnxruntime", CheckStatus.Failed, true, "ONNX Runtime does not load", Facts(("error", info.Error)),
                "Restore the Microsoft.ML.OnnxRuntime package for this platform.");
    }

    static DoctorCheck Llama()
    {
        var info = LlamaProbe.Probe();
        // Only the LLM judge needs it; the default lexical judge does not.
        return info.Loaded
            ? new("llama", CheckStatus.Ok, false, $"LLamaSharp backend loads; GPU offload {(info.GpuOffload ? "available" : "not available")}",
                Facts(("gpu_offload", info.GpuOffload.ToString().ToLowerInvariant())))
            : new("llama", CheckStatus.Warning, false, "LLamaSharp backend does not load: the LLM judge is unavailable",
                Facts(("error", info.Error)), "Restore LLamaSharp.Backend.Cpu (or a CUDA backend with -p:FineRewardsGpu=true).");
    }

    static DoctorCheck Fonts()
    {
        var info = FontProbe.Probe();
        return info.Loaded
            ? new("fonts", CheckStatus.Ok, true, $"shipped font \"{info.Family}\" loads in SkiaSharp",
                Facts(("family", info.Family), ("sample_width_px", info.SampleWidth.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture))))
            : new("fonts", CheckStatus.Failed, true, "the shipped font does not load in SkiaSharp", Facts(("error", info.Error)),
                "Restore SkiaSharp.NativeAssets.Linux.NoDependencies; the font is embedded in FineRewards.Core.");
    }

    static DoctorCheck Gpu(TorchInfo torch)
    {
        bool device = File.Exists("/dev/nvidia0") || File.Exists("/proc/driver/nvidia/version");
        string summary = torch.CudaAvailable
            ? $"CUDA available to libtorch ({torch.CudaDevices} device(s))"
            : device ? "an NVIDIA device is present but this build uses CPU libtorch (build with -p:FineRewardsGpu=true)"
                     : "no GPU visible; running on CPU";
        return new("gpu", CheckStatus.Ok, false, summary,
            Facts(("cuda", torch.CudaAvailable.ToString().ToLowerInvariant()), ("nvidia_device", device.ToString().ToLowerInvariant())));
    }

    static DoctorCheck Packs(PackLocator locator)
    {
        var found = locator.FindAll(verifyHashes: false);
        var facts = new Dictionary<string, string> { ["search_paths"] = string.Join(Path.PathSeparator, locator.SearchRoots) };
        foreach (var pack in found)
        {
            // Packs of ONNX reward models also need each model's graphs, named with the path looked at.
            var problems = pack.Manifest is not null && OnnxPack.Declares(pack.Manifest)
                ? pack.Problems.Concat(new OnnxPack(pack.Folder, pack.Manifest).Problems()).ToList()
                : pack.Problems;
            facts[$"pack.{pack.Name}"] = problems.Count == 0 ? $"ready ({pack.Folder})" : $"incomplete ({pack.Folder}): {string.Join("; ", problems)}";
            if (pack.Manifest is not null && SdPack.IsSdPack(pack.Folder)) SdPackFacts(pack, facts);
        }
        var defaultPack = found.FirstOrDefault(p => p.Name == DefaultPack) ?? locator.Find(DefaultPack);
        if (defaultPack.Ready)
            return new("packs", CheckStatus.Ok, false, $"{found.Count} pack(s); default \"{DefaultPack}\" ready", facts);
        facts[$"pack.{DefaultPack}"] = string.Join("; ", defaultPack.Problems);
        // Not required yet: the built-in Shapes pack ships with its own issue; until then the
        // commands that need no models (rank, doctor) still work.
        return new("packs", CheckStatus.Warning, false,
            $"default pack \"{DefaultPack}\" not found or incomplete; commands that generate or score images need it", facts,
            $"Put a pack folder with {PackManifest.FileName} under one of the search paths, or set {PackLocator.EnvironmentVariable}.");
    }

    /// <summary>Each part of a Stable Diffusion pack: present, missing with the path looked at, or not configured.</summary>
    static void SdPackFacts(PackStatus pack, Dictionary<string, string> facts)
    {
        var components = new PackComponents(pack.Folder, pack.Manifest!).All();
        foreach (var c in components)
            facts[$"pack.{pack.Name}.{c.Name}"] = c.Exists ? $"{c.Kind} {c.Path}" : $"MISSING {c.Kind}: looked at {c.Path}";
        foreach (var (name, kind, option) in SdPack.OptionalParts)
            if (components.All(c => c.Name != name))
                facts[$"pack.{pack.Name}.{name}"] = $"not configured ({kind}; add with `pack create sd {option} PATH`)";
    }
}
