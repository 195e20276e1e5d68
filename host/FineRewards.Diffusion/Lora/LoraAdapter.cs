using FineRewards.Core;
using FineRewards.Diffusion.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Lora;

/// <summary>
/// Low-rank adapters for named Linear layers of a base model: for a layer y = W x + b the adapter
/// adds scale * (alpha / rank) * B (A x), with A [rank, in] and B [out, rank]. B starts at zero, so a
/// fresh adapter leaves the model's outputs unchanged; only A and B train, the base stays frozen.
/// </summary>
/// <remarks>
/// Adapters attach through forward hooks on the base layers instead of replacing modules, so the
/// model classes need no LoRA-specific code and several adapters (a personal one over a project one)
/// stack by attaching each with its own scale. The base model must invoke its layers with
/// <c>call(...)</c>, which runs hooks, not <c>forward(...)</c>.
/// </remarks>
public sealed class LoraAdapter : nn.Module
{
    /// <summary>Base-model module path (e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q) to its A and B.</summary>
    public IReadOnlyDictionary<string, (Linear Down, Linear Up)> Layers => _layers;
    public int Rank { get; }
    public double Alpha { get; }
    /// <summary>alpha / rank: the factor every adapter output is multiplied by before the user's scale.</summary>
    public double Scaling => Alpha / Rank;

    readonly Dictionary<string, (Linear Down, Linear Up)> _layers = new(StringComparer.Ordinal);

    LoraAdapter(int rank, double alpha) : base("LoraAdapter")
    {
        Rank = rank;
        Alpha = alpha;
    }

    /// <summary>Module-name-safe key for a module path (TorchSharp names cannot contain dots).</summary>
    static string Key(string path) => path.Replace('.', '_');

    void Add(string path, long inFeatures, long outFeatures)
    {
        var down = nn.Linear(inFeatures, Rank, hasBias: false);
        var up = nn.Linear(Rank, outFeatures, hasBias: false);
        register_module(Key(path) + "__down", down);
        register_module(Key(path) + "__up", up);
        _layers[path] = (down, up);
    }

    /// <summary>All Linear layers of the model, by module path.</summary>
    public static IReadOnlyDictionary<string, Linear> LinearLayers(nn.Module model) =>
        model.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module, StringComparer.Ordinal);

    /// <summary>A fresh adapter for every layer the config targets: A like nn.Linear's default init (seeded), B = 0.</summary>
    public static LoraAdapter Create(nn.Module model, LoraConfig config, long seed = 1234)
    {
        config.Validate();
        var targets = LinearLayers(model).Where(l => config.Targets(l.Key)).OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
        if (targets.Count == 0) throw new InputException("lora.targets", "the model has no layer the LoRA config targets");
        var adapter = new LoraAdapter(config.Rank, config.Alpha);
        using (var _ = no_grad())
        {
            var generator = new Generator((ulong)seed);
            foreach (var (path, linear) in targets)
            {
                long outFeatures = linear.weight!.shape[0], inFeatures = linear.weight.shape[1];
                adapter.Add(path, inFeatures, outFeatures);
                var (down, up) = adapter._layers[path];
                // kaiming_uniform(a = sqrt 5) as nn.Linear does: U(-1/sqrt(in), 1/sqrt(in)).
                double bound = 1.0 / Math.Sqrt(inFeatures);
                down.weight!.copy_(rand(down.weight.shape, generator: generator).mul_(2 * bound).sub_(bound));
                up.weight!.zero_();
            }
        }
        var device = targets[0].Value.weight!.device;
        adapter.to(device);
        return adapter;
    }

    /// <summary>The adapter's added output for one layer: scaling * B (A x).</summary>
    public Tensor Delta(string path, Tensor input)
    {
        var (down, up) = _layers[path];
        return up.call(down.call(input)).mul(Scaling);
    }

    /// <summary>
    /// Adds the adapter to the model's outputs until the returned handle is disposed. Every adapted
    /// layer must exist in the model with matching shapes.
    /// </summary>
    public IDisposable Attach(nn.Module model, double scale = 1.0)
    {
        var layers = CheckFits(model);
        var removers = new List<Action>();
        foreach (var (path, linear) in layers)
        {
            string p = path;
            var hook = linear.register_forward_hook((_, input, output) => output.add(Delta(p, input).mul(scale)));
            removers.Add(() => hook.remove());
        }
        return new Detacher(removers);
    }

    sealed class Detacher(List<Action> removers) : IDisposable
    {
        public void Dispose()
        {
            foreach (var remove in removers) remove();
            removers.Clear();
        }
    }

    /// <summary>Folds the adapter into the base weights: W += scale * scaling * B A.</summary>
    public void Merge(nn.Module model, double scale = 1.0) => AddToWeights(model, scale);

    /// <summary>Undoes <see cref="Merge"/> with the same scale (exact up to float rounding).</summary>
    public void Unmerge(nn.Module model, double scale = 1.0) => AddToWeights(model, -scale);

    void AddToWeights(nn.Module model, double scale)
    {
        var layers = CheckFits(model);
        using var _ = no_grad();
        foreach (var (path, linear) in layers)
        {
            var (down, up) = _layers[path];
            linear.weight!.add_(up.weight!.matmul(down.weight!).mul(scale * Scaling));
        }
    }

    List<(string Path, Linear Layer)> CheckFits(nn.Module model)
    {
        var linears = LinearLayers(model);
        var result = new List<(string, Linear)>();
        var problems = new List<string>();
        foreach (var (path, (down, up)) in _layers)
        {
            if (!linears.TryGetValue(path, out var linear)) { problems.Add($"the model has no Linear layer {path}"); continue; }
            long outFeatures = linear.weight!.shape[0], inFeatures = linear.weight.shape[1];
            if (down.weight!.shape[1] != inFeatures || up.weight!.shape[0] != outFeatures)
                problems.Add($"{path}: layer weight is {StateDictLoader.Shape(linear.weight.shape)} but the adapter has A {StateDictLoader.Shape(down.weight.shape)}, B {StateDictLoader.Shape(up.weight.shape)}");
            result.Add((path, linear));
        }
        if (problems.Count > 0) throw new CheckpointMismatchException("LoRA adapter", problems);
        return result;
    }

    // ---- files -------------------------------------------------------------------------------

    /// <summary>Where a LoRA file's tensors are named the diffusers/PEFT way or the kohya way.</summary>
    public enum FileLayout { Peft, Kohya }

    public const string PeftPrefix = "unet.";
    public const string KohyaPrefix = "lora_unet_";

    /// <summary>
    /// Saves the adapter as .safetensors. PEFT: `unet.{path}.lora_A.weight` / `lora_B.weight`;
    /// kohya (AUTOMATIC1111, ComfyUI): `lora_unet_{path with _}.lora_down.weight` / `.lora_up.weight` / `.alpha`.
    /// Metadata always records rank, alpha and layout, plus whatever the caller adds (base model hash, rounds).
    /// </summary>
    public void Save(string path, FileLayout layout, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (module, (down, up)) in _layers)
        {
            if (layout == FileLayout.Peft)
            {
                tensors[$"{PeftPrefix}{module}.lora_A.weight"] = down.weight!;
                tensors[$"{PeftPrefix}{module}.lora_B.weight"] = up.weight!;
            }
            else
            {
                string key = KohyaPrefix + Key(module);
                tensors[$"{key}.lora_down.weight"] = down.weight!;
                tensors[$"{key}.lora_up.weight"] = up.weight!;
                tensors[$"{key}.alpha"] = tensor((float)Alpha);
            }
        }
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            ["finerewards.format"] = layout == FileLayout.Peft ? "peft" : "kohya",
            ["finerewards.rank"] = Rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["finerewards.alpha"] = Alpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["ss_network_dim"] = Rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ss_network_alpha"] = Alpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        };
        SafetensorsFile.Write(path, tensors, meta);
    }

    /// <summary>
    /// Loads a LoRA file in either layout for the given base model. Kohya names lose the dots of the
    /// module path, so they are matched against the model's own Linear layers. A file that names a
    /// layer the model lacks, or has the wrong shapes, is an error listing every such tensor.
    /// </summary>
    public static LoraAdapter Load(string path, nn.Module model)
    {
        var header = SafetensorsFile.ReadHeader(path);
        var raw = StateDictLoader.ReadSafetensors(path);
        try
        {
            // Text-encoder adapters (kohya lora_te*_, PEFT text_encoder.) cannot apply to a UNet; applying
            // only the UNet half of such a file would silently give other images than other tools do.
            var textEncoder = raw.Keys.Where(k => k.StartsWith("lora_te", StringComparison.Ordinal) || k.StartsWith("text_encoder", StringComparison.Ordinal)).ToList();
            if (textEncoder.Count > 0)
                throw new CheckpointMismatchException(path, [$"{textEncoder.Count} text-encoder LoRA tensors (e.g. {textEncoder[0]}) are not supported; only UNet adapters apply"]);
            bool kohya = raw.Keys.Any(k => k.StartsWith(KohyaPrefix, StringComparison.Ordinal));
            bool peft = raw.Keys.Any(k => k.StartsWith(PeftPrefix, StringComparison.Ordinal));
            if (kohya == peft) throw new InvalidDataException($"{path}: expected LoRA tensors named {PeftPrefix}... or {KohyaPrefix}..., found {(kohya ? "both" : "neither")}");

            var linears = LinearLayers(model);
            var byKohyaKey = linears.Keys.ToDictionary(Key, p => p, StringComparer.Ordinal);
            var pairs = new Dictionary<string, (Tensor? A, Tensor? B, double? Alpha)>(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var (name, t) in raw)
            {
                string module; string part;
                if (kohya)
                {
                    string rest = name[KohyaPrefix.Length..];
                    int dot = rest.IndexOf('.');
                    if (dot < 0) { problems.Add($"unexpected tensor {name}"); continue; }
                    if (!byKohyaKey.TryGetValue(rest[..dot], out module!)) { problems.Add($"{name}: the model has no Linear layer named like {rest[..dot]}"); continue; }
                    part = rest[(dot + 1)..];
                }
                else
                {
                    string rest = name[PeftPrefix.Length..];
                    int at = rest.IndexOf(".lora_", StringComparison.Ordinal);
                    if (at < 0) { problems.Add($"unexpected tensor {name}"); continue; }
                    module = rest[..at];
                    part = rest[(at + 1)..];
                    if (!linears.ContainsKey(module)) { problems.Add($"{name}: the model has no Linear layer {module}"); continue; }
                }
                pairs.TryGetValue(module, out var entry);
                switch (part)
                {
                    case "lora_A.weight" or "lora_down.weight": entry.A = t; break;
                    case "lora_B.weight" or "lora_up.weight": entry.B = t; break;
                    case "alpha": entry.Alpha = t.to_type(ScalarType.Float64).item<double>(); break;
                    default: problems.Add($"unexpected tensor {name}"); break;
                }
                pairs[module] = entry;
            }
            foreach (var (module, e) in pairs)
                if (e.A is null || e.B is null) problems.Add($"{module}: needs both the down (A) and up (B) weights");
            if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
            if (pairs.Count == 0) throw new InvalidDataException($"{path}: holds no LoRA tensors");

            int rank = (int)pairs.Values.First().A!.shape[0];
            if (pairs.Values.Any(e => e.A!.shape[0] != rank || e.B!.shape[1] != rank))
                throw new InvalidDataException($"{path}: layers have different ranks; one rank per file is supported");
            double alpha = pairs.Values.Select(e => e.Alpha).FirstOrDefault(a => a is not null)
                ?? (header.Metadata.TryGetValue("finerewards.alpha", out var a) ? double.Parse(a, System.Globalization.CultureInfo.InvariantCulture) : rank);

            var adapter = new LoraAdapter(rank, alpha);
            foreach (var (module, e) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal))
                adapter.Add(module, e.A!.shape[1], e.B!.shape[0]);
            adapter.CheckFits(model);
            using (var _ = no_grad())
            {
                foreach (var (module, e) in pairs)
                {
                    var (down, up) = adapter._layers[module];
                    down.weight!.copy_(e.A!.to(down.weight.dtype));
                    up.weight!.copy_(e.B!.to(up.weight.dtype));
                }
            }
            adapter.to(linears.Values.First().weight!.device);
            return adapter;
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    protected override void Dispose(bool disposing)
    {
        _layers.Clear();
        base.Dispose(disposing);
    }
}
