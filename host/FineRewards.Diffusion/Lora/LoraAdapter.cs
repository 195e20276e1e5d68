using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Lora;

/// <summary>
/// Low-rank adapters for named Linear and Conv2d layers of a base model: for a layer y = W x + b the
/// adapter adds scale * (alpha / rank) * B (A x), with A [rank, in] and B [out, rank] (Conv2d: A is a
/// convolution [rank, in, kh, kw] with the base layer's stride and padding, B a 1x1 convolution
/// [out, rank, 1, 1], as kohya's LoCon writes them). B starts at zero, so a fresh adapter leaves the
/// model's outputs unchanged; only A and B train, the base stays frozen.
/// </summary>
/// <remarks>
/// Adapters attach through forward hooks on the base layers instead of replacing modules, so the
/// model classes need no LoRA-specific code and several adapters (a personal one over a project one)
/// stack by attaching each with its own scale. The base model must invoke its layers with
/// <c>call(...)</c>, which runs hooks, not <c>forward(...)</c>.
/// One adapter may cover the UNet and the CLIP text encoder (kohya files hold both): text-encoder
/// layers are keyed <c>text_encoder.{path}</c>, UNet layers by their bare path. Alpha, and so the
/// scaling, is per layer because kohya files give each layer its own (LoCon convs often differ).
/// </remarks>
public sealed class LoraAdapter : nn.Module
{
    /// <summary>One adapted layer: A (down) and B (up), of the base layer's kind, and its alpha.</summary>
    public sealed record Part(nn.Module<Tensor, Tensor> Down, nn.Module<Tensor, Tensor> Up, double Alpha)
    {
        public long Rank => WeightOf(Down).shape[0];
        public Tensor DownWeight => WeightOf(Down);
        public Tensor UpWeight => WeightOf(Up);
        public double Scaling => Alpha / Rank;
    }

    /// <summary>Prefix of text-encoder layer keys; the rest is the module path inside the text encoder.</summary>
    public const string TextEncoderKey = "text_encoder.";

    /// <summary>Every adapted layer by key (UNet module path, or <see cref="TextEncoderKey"/> + text-encoder path).</summary>
    public IReadOnlyDictionary<string, Part> Parts => _parts;

    /// <summary>The adapted Linear layers (all of them for adapters this code creates) as A, B pairs.</summary>
    public IReadOnlyDictionary<string, (Linear Down, Linear Up)> Layers =>
        _parts.Where(p => p.Value.Down is Linear).ToDictionary(p => p.Key, p => ((Linear)p.Value.Down, (Linear)p.Value.Up), StringComparer.Ordinal);

    public int Rank { get; }
    public double Alpha { get; }
    /// <summary>alpha / rank of the adapter as created or as the file declares it; per layer see <see cref="Part.Scaling"/>.</summary>
    public double Scaling => Alpha / Rank;

    readonly Dictionary<string, Part> _parts = new(StringComparer.Ordinal);

    LoraAdapter(int rank, double alpha) : base("LoraAdapter")
    {
        Rank = rank;
        Alpha = alpha;
    }

    /// <summary>Module-name-safe key for a module path (TorchSharp names cannot contain dots).</summary>
    static string Key(string path) => path.Replace('.', '_');

    static Tensor WeightOf(nn.Module module) => module switch
    {
        Linear l => l.weight!,
        Conv2d c => c.weight!,
        _ => throw new ArgumentException($"LoRA applies to Linear and Conv2d layers, not {module.GetType().Name}"),
    };

    void Add(string path, nn.Module baseLayer, long rank, double alpha)
    {
        var w = WeightOf(baseLayer);
        nn.Module<Tensor, Tensor> down, up;
        if (baseLayer is Conv2d conv)
        {
            // A sees what the base convolution sees (same kernel, stride, padding); B only mixes channels.
            down = nn.Conv2d(w.shape[1], rank, (w.shape[2], w.shape[3]), stride: (conv.stride[0], conv.stride[1]),
                padding: (conv.padding![0], conv.padding[1]), dilation: (conv.dilation[0], conv.dilation[1]), bias: false);
            up = nn.Conv2d(rank, w.shape[0], 1, bias: false);
        }
        else
        {
            down = nn.Linear(w.shape[1], rank, hasBias: false);
            up = nn.Linear(rank, w.shape[0], hasBias: false);
        }
        register_module(Key(path) + "__down", down);
        register_module(Key(path) + "__up", up);
        _parts[path] = new Part(down, up, alpha);
    }

    /// <summary>All Linear layers of the model, by module path.</summary>
    public static IReadOnlyDictionary<string, Linear> LinearLayers(nn.Module model) =>
        model.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module, StringComparer.Ordinal);

    /// <summary>The layers an adapter can target: the UNet's Linear and Conv2d layers and the text encoder's Linear layers.</summary>
    static Dictionary<string, nn.Module> Targetable(nn.Module unet, nn.Module? textEncoder)
    {
        var result = unet.named_modules().Where(m => m.module is Linear or Conv2d).ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        if (textEncoder is not null)
            foreach (var (name, module) in textEncoder.named_modules())
                if (module is Linear) result[TextEncoderKey + name] = module;
        return result;
    }

    /// <summary>
    /// A fresh adapter for every layer the config targets (the text encoder's only when the config includes it
    /// and <paramref name="textEncoder"/> is given): A like nn.Linear's / nn.Conv2d's default init (seeded), B = 0.
    /// </summary>
    public static LoraAdapter Create(nn.Module model, LoraConfig config, long seed = 1234, nn.Module? textEncoder = null)
    {
        config.Validate();
        if (config.IncludesTextEncoder && textEncoder is null)
            throw new InputException("lora.targets", $"\"{config.Targets}\" adapts the text encoder, but none was given");
        var targets = Targetable(model, config.IncludesTextEncoder ? textEncoder : null)
            .Where(l => l.Key.StartsWith(TextEncoderKey, StringComparison.Ordinal) || config.AdaptsUNetLayer(l.Key))
            .OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
        if (targets.Count == 0) throw new InputException("lora.targets", "the model has no layer the LoRA config targets");
        var adapter = new LoraAdapter(config.Rank, config.Alpha);
        using (var _ = no_grad())
        {
            var generator = new Generator((ulong)seed);
            foreach (var (path, layer) in targets)
            {
                var w = WeightOf(layer);
                long fanIn = w.numel() / w.shape[0];   // in, or in·kh·kw for a convolution
                adapter.Add(path, layer, config.Rank, config.Alpha);
                var part = adapter._parts[path];
                // kaiming_uniform(a = sqrt 5) as nn.Linear and nn.Conv2d do: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
                double bound = 1.0 / Math.Sqrt(fanIn);
                var down = WeightOf(part.Down);
                down.copy_(rand(down.shape, generator: generator).mul_(2 * bound).sub_(bound));
                WeightOf(part.Up).zero_();
            }
        }
        adapter.to(WeightOf(targets[0].Value).device);
        return adapter;
    }

    /// <summary>While set, attached hooks add nothing: the model answers as its base (the preference objective's reference).</summary>
    public bool Bypassed { get; set; }

    /// <summary>The adapter's added output for one layer: scaling * B (A x).</summary>
    public Tensor Delta(string path, Tensor input)
    {
        var part = _parts[path];
        return part.Up.call(part.Down.call(input)).mul(part.Scaling);
    }

    /// <summary>
    /// Adds the adapter to the model's outputs until the returned handle is disposed. Every adapted
    /// layer must exist in the model (and the text encoder, for text-encoder parts) with matching shapes.
    /// </summary>
    public IDisposable Attach(nn.Module model, double scale = 1.0) => Attach(model, null, scale);

    /// <inheritdoc cref="Attach(nn.Module, double)"/>
    public IDisposable Attach(nn.Module unet, nn.Module? textEncoder, double scale = 1.0)
    {
        var layers = CheckFits(unet, textEncoder);
        var removers = new List<Action>();
        foreach (var (path, layer) in layers)
        {
            string p = path;
            var hook = ((nn.Module<Tensor, Tensor>)layer).register_forward_hook((_, input, output) => Bypassed ? output : output.add(Delta(p, input).mul(scale)));
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
    public void Merge(nn.Module model, double scale = 1.0, nn.Module? textEncoder = null) => AddToWeights(model, textEncoder, scale);

    /// <summary>Undoes <see cref="Merge"/> with the same scale (exact up to float rounding).</summary>
    public void Unmerge(nn.Module model, double scale = 1.0, nn.Module? textEncoder = null) => AddToWeights(model, textEncoder, -scale);

    /// <summary>
    /// The weight change one part makes at scale 1: scaling * B A, shaped like the base weight
    /// (Conv2d: [out, r, 1, 1] x [r, in, kh, kw] flattened to [out, r] x [r, in*kh*kw], then back to 4-D).
    /// </summary>
    public static Tensor MergedDelta(Part part, long[] baseShape)
    {
        var down = WeightOf(part.Down).flatten(1);   // [r, in] or [r, in*kh*kw]
        var up = WeightOf(part.Up).flatten(1);       // [out, r]
        return up.matmul(down).reshape(baseShape).mul(part.Scaling);
    }

    void AddToWeights(nn.Module unet, nn.Module? textEncoder, double scale)
    {
        var layers = CheckFits(unet, textEncoder);
        using var _ = no_grad();
        foreach (var (path, layer) in layers)
        {
            var w = WeightOf(layer);
            using var delta = MergedDelta(_parts[path], w.shape);
            w.add_(delta.mul(scale));
        }
    }

    List<(string Path, nn.Module Layer)> CheckFits(nn.Module unet, nn.Module? textEncoder)
    {
        var targetable = Targetable(unet, textEncoder);
        var result = new List<(string, nn.Module)>();
        var problems = new List<string>();
        foreach (var (path, part) in _parts)
        {
            string kind = part.Down is Conv2d ? "Conv2d" : "Linear";
            if (!targetable.TryGetValue(path, out var layer) || (layer is Conv2d) != (part.Down is Conv2d))
            {
                problems.Add(path.StartsWith(TextEncoderKey, StringComparison.Ordinal) && textEncoder is null
                    ? $"{path}: a text-encoder layer, but no text encoder was given"
                    : $"the model has no {kind} layer {path}");
                continue;
            }
            var w = WeightOf(layer);
            var a = WeightOf(part.Down); var b = WeightOf(part.Up);
            bool fits = a.shape[1] == w.shape[1] && b.shape[0] == w.shape[0]
                && (layer is not Conv2d || (a.shape[2] == w.shape[2] && a.shape[3] == w.shape[3]));
            if (!fits)
                problems.Add($"{path}: layer weight is {StateDictLoader.Shape(w.shape)} but the adapter has A {StateDictLoader.Shape(a.shape)}, B {StateDictLoader.Shape(b.shape)}");
            result.Add((path, layer));
        }
        if (problems.Count > 0) throw new CheckpointMismatchException("LoRA adapter", problems);
        return result;
    }

    // ---- files -------------------------------------------------------------------------------

    /// <summary>Where a LoRA file's tensors are named the diffusers/PEFT way or the kohya way.</summary>
    public enum FileLayout { Peft, Kohya }

    public const string PeftPrefix = "unet.";
    public const string KohyaPrefix = "lora_unet_";
    /// <summary>kohya's prefix for the CLIP text encoder (SD 1.x and 2.x; kohya names both towers' layers the transformers way).</summary>
    public const string KohyaTextEncoderPrefix = "lora_te_";

    /// <summary>PEFT-layout metadata: JSON object of file layer name to alpha, for layers whose alpha differs from the file's.</summary>
    public const string LayerAlphasKey = "finerewards.layer_alphas";

    /// <summary>The file name of a part: PEFT `unet.{path}` / `text_encoder.{path}`, kohya `lora_unet_` / `lora_te_` + path with _.</summary>
    static string FileName(string key, FileLayout layout)
    {
        bool te = key.StartsWith(TextEncoderKey, StringComparison.Ordinal);
        if (layout == FileLayout.Peft) return te ? key : PeftPrefix + key;
        return te ? KohyaTextEncoderPrefix + Key(key[TextEncoderKey.Length..]) : KohyaPrefix + Key(key);
    }

    /// <summary>
    /// Saves the adapter as .safetensors. PEFT: `unet.{path}.lora_A.weight` / `lora_B.weight`
    /// (`text_encoder.{path}...` for text-encoder parts); kohya (AUTOMATIC1111, ComfyUI):
    /// `lora_unet_{path with _}` / `lora_te_{path with _}` + `.lora_down.weight` / `.lora_up.weight` / `.alpha`.
    /// Metadata always records rank, alpha and layout, plus whatever the caller adds (base model hash, rounds).
    /// </summary>
    public void Save(string path, FileLayout layout, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (key, part) in _parts)
        {
            string name = FileName(key, layout);
            if (layout == FileLayout.Peft)
            {
                tensors[$"{name}.lora_A.weight"] = WeightOf(part.Down);
                tensors[$"{name}.lora_B.weight"] = WeightOf(part.Up);
            }
            else
            {
                tensors[$"{name}.lora_down.weight"] = WeightOf(part.Down);
                tensors[$"{name}.lora_up.weight"] = WeightOf(part.Up);
                tensors[$"{name}.alpha"] = tensor((float)part.Alpha);
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
        // PEFT files have no alpha tensors; layers whose alpha is not the file's keep theirs here.
        var ownAlphas = _parts.Where(p => p.Value.Alpha != Alpha).ToDictionary(p => FileName(p.Key, layout), p => p.Value.Alpha);
        if (layout == FileLayout.Peft && ownAlphas.Count > 0) meta[LayerAlphasKey] = System.Text.Json.JsonSerializer.Serialize(ownAlphas);
        SafetensorsFile.Write(path, tensors, meta);
    }

    /// <summary>
    /// Loads a LoRA file in either layout for the given UNet (and text encoder, for files with
    /// text-encoder parts). Kohya names lose the dots of the module path, so they are matched against
    /// the models' own Linear and Conv2d layers. A file that names a layer the models lack, a tensor
    /// of an unknown kind, or wrong shapes is an error listing every such tensor.
    /// </summary>
    public static LoraAdapter Load(string path, nn.Module model, nn.Module? textEncoder = null)
    {
        var header = SafetensorsFile.ReadHeader(path);
        var raw = StateDictLoader.ReadSafetensors(path);
        try
        {
            // Without a text encoder to apply them to, text-encoder adapters are refused: applying only
            // the UNet half of such a file would silently give other images than other tools do.
            if (textEncoder is null)
            {
                var textEncoderKeys = raw.Keys.Where(k => k.StartsWith("lora_te", StringComparison.Ordinal) || k.StartsWith(TextEncoderKey, StringComparison.Ordinal)).ToList();
                if (textEncoderKeys.Count > 0)
                    throw new CheckpointMismatchException(path, [$"{textEncoderKeys.Count} text-encoder LoRA tensors (e.g. {textEncoderKeys[0]}) but no text encoder to apply them to"]);
            }
            bool kohya = raw.Keys.Any(k => k.StartsWith(KohyaPrefix, StringComparison.Ordinal) || k.StartsWith(KohyaTextEncoderPrefix, StringComparison.Ordinal));
            bool peft = raw.Keys.Any(k => k.StartsWith(PeftPrefix, StringComparison.Ordinal) || k.StartsWith(TextEncoderKey, StringComparison.Ordinal));
            if (kohya == peft) throw new InvalidDataException($"{path}: expected LoRA tensors named {PeftPrefix}... or {KohyaPrefix}... / {KohyaTextEncoderPrefix}..., found {(kohya ? "both" : "neither")}");
            var layout = kohya ? FileLayout.Kohya : FileLayout.Peft;

            var targetable = Targetable(model, textEncoder);
            var byFileName = targetable.Keys.ToDictionary(k => FileName(k, layout), k => k, StringComparer.Ordinal);
            var pairs = new Dictionary<string, (Tensor? A, Tensor? B, double? Alpha)>(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var (name, t) in raw)
            {
                // kohya: {name}.lora_down.weight; PEFT: {name}.lora_A.weight. Module names hold no ".lora_" / (kohya) no ".".
                int at = kohya ? name.IndexOf('.') : name.IndexOf(".lora_", StringComparison.Ordinal);
                if (at < 0) { problems.Add($"unexpected tensor {name}"); continue; }
                if (!byFileName.TryGetValue(name[..at], out var key)) { problems.Add($"{name}: the model has no Linear or Conv2d layer named like {name[..at]}"); continue; }
                pairs.TryGetValue(key, out var entry);
                switch (name[(at + 1)..])
                {
                    case "lora_A.weight" or "lora_down.weight": entry.A = t; break;
                    case "lora_B.weight" or "lora_up.weight": entry.B = t; break;
                    case "alpha": entry.Alpha = t.to_type(ScalarType.Float64).item<double>(); break;
                    default: problems.Add($"unexpected tensor {name} (only lora_down/lora_up/alpha or lora_A/lora_B are read)"); break;
                }
                pairs[key] = entry;
            }
            foreach (var (key, e) in pairs)
                if (e.A is null || e.B is null) problems.Add($"{FileName(key, layout)}: needs both the down (A) and up (B) weights");
            if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
            if (pairs.Count == 0) throw new InvalidDataException($"{path}: holds no LoRA tensors");

            double? fileAlpha = header.Metadata.TryGetValue("finerewards.alpha", out var a) ? double.Parse(a, System.Globalization.CultureInfo.InvariantCulture) : null;
            if (header.Metadata.TryGetValue(LayerAlphasKey, out var layerAlphas))
            {
                Dictionary<string, double>? own;
                try { own = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double>>(layerAlphas); }
                catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: metadata {LayerAlphasKey} must be a JSON object of layer name to alpha: {e.Message}"); }
                foreach (var (name, value) in own ?? [])
                    if (byFileName.TryGetValue(name, out var key) && pairs.TryGetValue(key, out var entry) && entry.Alpha is null) pairs[key] = entry with { Alpha = value };
            }
            int rank = (int)pairs.Values.GroupBy(e => e.A!.shape[0]).OrderByDescending(g => g.Count()).First().Key;
            // The adapter's nominal rank and alpha are those of most layers (what kohya's ss_network_dim/alpha say).
            var adapter = new LoraAdapter(rank, pairs.Values.Where(e => e.A!.shape[0] == rank).Select(e => e.Alpha).FirstOrDefault(x => x is > 0) ?? fileAlpha ?? rank);
            foreach (var (key, e) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                // A layer without its own alpha takes the file's, else its rank; kohya reads alpha 0 as
                // "no scaling" (alpha = rank) too, so 0 must not silence the layer.
                double alpha = e.Alpha ?? fileAlpha ?? e.A!.shape[0];
                adapter.Add(key, targetable[key], e.A!.shape[0], alpha == 0 ? e.A.shape[0] : alpha);
            }
            // 1x1 convolutions and Linear layers are the same map: a file written for SD 1.x (conv proj_in)
            // loads onto a linear one and back, so reshape A and B to the layer's kind before checking.
            using (var _ = no_grad())
            {
                foreach (var (key, e) in pairs)
                {
                    var part = adapter._parts[key];
                    var down = WeightOf(part.Down); var up = WeightOf(part.Up);
                    if (e.A!.numel() != down.numel() || e.B!.numel() != up.numel())
                    {
                        problems.Add($"{FileName(key, layout)}: layer weight is {StateDictLoader.Shape(WeightOf(targetable[key]).shape)} but the file has down {StateDictLoader.Shape(e.A.shape)}, up {StateDictLoader.Shape(e.B!.shape)}");
                        continue;
                    }
                    if (e.A.dim() != down.dim() && !(e.A.dim() == 4 && e.A.shape[2] * e.A.shape[3] == 1) && !(down.dim() == 4 && down.shape[2] * down.shape[3] == 1))
                    {
                        problems.Add($"{FileName(key, layout)}: down weight {StateDictLoader.Shape(e.A.shape)} does not fit a {StateDictLoader.Shape(down.shape)} layer");
                        continue;
                    }
                    down.copy_(e.A.to(down.dtype).reshape(down.shape));
                    up.copy_(e.B.to(up.dtype).reshape(up.shape));
                }
            }
            if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
            adapter.CheckFits(model, textEncoder);
            adapter.to(WeightOf(targetable.Values.First()).device);
            return adapter;
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    protected override void Dispose(bool disposing)
    {
        _parts.Clear();
        base.Dispose(disposing);
    }
}
