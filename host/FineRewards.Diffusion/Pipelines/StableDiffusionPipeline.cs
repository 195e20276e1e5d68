using System.Globalization;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Lora;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.Diffusion.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Pipelines;

/// <summary>
/// Text-to-image latent diffusion (diffusers' StableDiffusionPipeline): CLIP text encoder, a sampler
/// denoising a latent with the UNet under classifier-free guidance, VAE decode. Generates the K
/// candidates of a prompt as one batch in which candidate i owns its seed <c>BaseSeed + i</c>: its own
/// generator draws its initial noise (and the ancestral sampler's noise) and its own scheduler instance
/// steps it, so that candidate alone can be regenerated with <see cref="Regenerate"/>.
/// Not thread-safe across requests on one instance: calls are serialised (LoRAs attach to the shared UNet).
/// </summary>
public sealed class StableDiffusionPipeline : IImageGenerator, IDisposable
{
    readonly object _gate = new();
    /// <summary>Held while the UNet is in use (generation, LoRA training), since adapters attach to it.</summary>
    internal object Gate => _gate;
    readonly Lazy<string> _modelHash;

    public ClipTokenizer Tokenizer { get; }
    public ClipTextModel TextEncoder { get; }
    public UNet2DConditionModel Unet { get; }
    public AutoencoderKL Vae { get; }
    public SchedulerConfig SchedulerConfig { get; }
    public PipelineOptions Options { get; }
    public string Name { get; }
    /// <summary>Identifies the weights (for a folder: <see cref="StableDiffusionFolder.ContentHash"/>); computed on first use.</summary>
    public string ModelHash => _modelHash.Value;
    public Device Device { get; }
    /// <summary>The UNet's weight dtype (float32, or fp16/bf16 for a single file loaded so).</summary>
    public ScalarType UnetDtype { get; }

    /// <summary>Image pixels per latent pixel along each side (8 for SD); request sizes must be multiples of it.</summary>
    public int SizeMultiple => Vae.Config.DownsampleFactor;

    /// <summary>Composes loaded components (the pipeline owns and disposes them).</summary>
    /// <param name="modelHash">Computes the weights' identity for provenance; called at most once.</param>
    public StableDiffusionPipeline(ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
        SchedulerConfig schedulerConfig, string name, Func<string> modelHash, PipelineOptions? options = null)
    {
        Tokenizer = tokenizer;
        TextEncoder = textEncoder;
        Unet = unet;
        Vae = vae;
        SchedulerConfig = schedulerConfig;
        Name = name;
        _modelHash = new Lazy<string>(modelHash);
        Options = options ?? PipelineOptions.Default;
        if (Options.MaxBatchSize < 1 || Options.MaxCandidates < 1) throw new InputException("pipeline options", "MaxBatchSize and MaxCandidates must be at least 1");
        CheckCompatible();
        Device = unet.parameters().First().device;
        UnetDtype = unet.parameters().First().dtype;
        TextEncoder.eval();
        Unet.eval();
        Vae.eval();
    }

    /// <summary>
    /// Loads a whole diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).
    /// Weights load strictly (every tensor present with its shape; fp16 files become float32).
    /// </summary>
    public static StableDiffusionPipeline FromDiffusersFolder(string folder, PipelineOptions? options = null, Device? device = null)
    {
        var layout = StableDiffusionFolder.Resolve(folder);
        var schedulerConfig = SchedulerConfig.FromJsonFile(layout.SchedulerConfigPath);
        var tokenizer = ClipTokenizer.FromPretrained(layout.TokenizerFolder);
        ClipTextModel? text = null;
        UNet2DConditionModel? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            text = new ClipTextModel(ClipTextConfig.FromJsonFile(Path.Combine(layout.TextEncoderFolder, "config.json")));
            text.LoadWeights(layout.TextEncoderWeights);
            unet = UNet2DConditionModel.FromDiffusersFolder(layout.UnetFolder);
            vae = AutoencoderKL.FromDiffusersFolder(layout.VaeFolder);
            if (device is not null)
            {
                text.to(device);
                unet.to(device);
                vae.to(device);
            }
            var name = Path.GetFileName(layout.Root.TrimEnd(Path.DirectorySeparatorChar));
            return new StableDiffusionPipeline(tokenizer, text, unet, vae, schedulerConfig, name, layout.ContentHash, options);
        }
        catch
        {
            text?.Dispose();
            unet?.Dispose();
            vae?.Dispose();
            throw;
        }
    }

    void CheckCompatible()
    {
        int hidden = TextEncoder.Config.HiddenSize;
        if (Unet.Config.CrossAttentionDim.Any(d => d != hidden))
            throw new InputException("unet/config.json: cross_attention_dim",
                $"is {string.Join(", ", Unet.Config.CrossAttentionDim)} but the text encoder's hidden_size is {hidden}");
        int latent = Vae.Config.LatentChannels;
        if (Unet.Config.InChannels != latent || Unet.Config.OutChannels != latent)
            throw new InputException("unet/config.json: in_channels",
                $"UNet in/out channels {Unet.Config.InChannels}/{Unet.Config.OutChannels} differ from the VAE's latent_channels {latent}");
        int maxId = Tokenizer.Vocabulary.Values.Max();
        if (maxId >= TextEncoder.Config.VocabSize)
            throw new InputException("tokenizer/vocab.json", $"has ids up to {maxId} but the text encoder's vocab_size is {TextEncoder.Config.VocabSize}");
    }

    /// <summary>Text encoder states of prompts (SD conditioning: the final-layer-normed last hidden state).</summary>
    /// <returns>[B, L, D] on <see cref="Device"/>, owned by the caller</returns>
    public Tensor EncodeText(IReadOnlyList<string> prompts)
    {
        using var scope = NewDisposeScope();
        int length = Math.Min(Tokenizer.ModelMaxLength, TextEncoder.Config.MaxPositionEmbeddings);
        var ids = Tokenizer.EncodeBatch(prompts, length).to(Device);                 // [B, L] int64
        using var output = TextEncoder.forward(ids);
        return output.LastHiddenState.to(ScalarType.Float32).MoveToOuterDisposeScope();   // [B, L, D]
    }

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null,
        CancellationToken cancellationToken = default) => Generate(request, progress, null, cancellationToken);

    /// <summary>The image a candidate's stored latents decode to: the same decode <see cref="Generate(GenerationRequest, IProgress{GenerationProgress}?, CancellationToken)"/> ran.</summary>
    public RgbImage DecodeLatents(CandidateLatents latents)
    {
        lock (_gate)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            return ImageTensors.ToRgbImage(Vae.Decode(ImageTensors.FromLatents(latents, Device) / Vae.ScalingFactor));
        }
    }

    /// <summary>Candidate <paramref name="index"/> of <paramref name="request"/> alone (seed BaseSeed + index), as the batched run made it.</summary>
    public GeneratedCandidate Regenerate(GenerationRequest request, int index, CancellationToken cancellationToken = default)
    {
        if (index < 0 || index >= request.K) throw new InputException("index", $"candidate {index} is outside 0..{request.K - 1}");
        var single = Generate(request with { K = 1, BaseSeed = request.BaseSeed + index }, null, null, cancellationToken)[0];
        var provenance = new Dictionary<string, string>(single.Provenance)
        {
            ["candidate_index"] = index.ToString(CultureInfo.InvariantCulture),
            ["k"] = request.K.ToString(CultureInfo.InvariantCulture),
            ["base_seed"] = request.BaseSeed.ToString(CultureInfo.InvariantCulture),
        };
        return single with { Index = index, Provenance = provenance };
    }

    public IReadOnlyList<GeneratedCandidate> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress,
        PreviewOptions? preview, CancellationToken cancellationToken = default)
    {
        Validate(request, preview);
        lock (_gate)
        {
            var loras = new List<(LoraReference Ref, LoraAdapter Adapter, IDisposable Handle, string Sha256)>();
            try
            {
                foreach (var lora in request.Loras ?? [])
                {
                    if (!File.Exists(lora.Path)) throw new InputException($"lora {lora.Path}", "file does not exist");
                    LoraAdapter adapter;
                    try
                    {
                        adapter = LoraAdapter.Load(lora.Path, Unet, TextEncoder);
                    }
                    catch (Exception e) when (e is CheckpointMismatchException or InvalidDataException)
                    {
                        throw new InputException($"lora {lora.Path}", e.Message);
                    }
                    loras.Add((lora, adapter, adapter.Attach(Unet, TextEncoder, lora.Scale), StableDiffusionFolder.Sha256OfFile(lora.Path)));
                }
                var loraProvenance = JsonSerializer.Serialize(loras.Select(l => new { path = l.Ref.Path, scale = l.Ref.Scale, sha256 = l.Sha256 }));
                return GenerateAll(request, progress, preview, loraProvenance, cancellationToken);
            }
            finally
            {
                // Detach in reverse order of attaching, so the UNet is the base model again.
                for (int i = loras.Count - 1; i >= 0; i--)
                {
                    loras[i].Handle.Dispose();
                    loras[i].Adapter.Dispose();
                }
            }
        }
    }

    void Validate(GenerationRequest r, PreviewOptions? preview)
    {
        if (string.IsNullOrWhiteSpace(r.Prompt)) throw new InputException("prompt", "must not be empty");
        if (r.K < 1 || r.K > Options.MaxCandidates) throw new InputException("k", $"must be between 1 and {Options.MaxCandidates}, got {r.K}");
        if (r.Steps < 1 || r.Steps > SchedulerConfig.NumTrainTimesteps)
            throw new InputException("steps", $"must be between 1 and {SchedulerConfig.NumTrainTimesteps}, got {r.Steps}");
        if (!double.IsFinite(r.Guidance) || r.Guidance < 0) throw new InputException("guidance", $"must be a finite number >= 0, got {r.Guidance}");
        int f = SizeMultiple;
        if (r.Width < f || r.Width % f != 0) throw new InputException("width", $"must be a positive multiple of {f} (the VAE's downsampling factor), got {r.Width}");
        if (r.Height < f || r.Height % f != 0) throw new InputException("height", $"must be a positive multiple of {f} (the VAE's downsampling factor), got {r.Height}");
        foreach (var lora in r.Loras ?? [])
            if (!double.IsFinite(lora.Scale)) throw new InputException($"lora {lora.Path}", $"scale must be a finite number, got {lora.Scale}");
        if (!SchedulerFactory.Names.Contains(r.Sampler.ToLowerInvariant()))
            throw new InputException("sampler", $"unknown sampler \"{r.Sampler}\"; expected one of {string.Join(", ", SchedulerFactory.Names)}");
        if (preview is not null && (preview.EverySteps < 1 || preview.LatentDownscale < 1))
            throw new InputException("preview", "EverySteps and LatentDownscale must be at least 1");
    }

    IReadOnlyList<GeneratedCandidate> GenerateAll(GenerationRequest request, IProgress<GenerationProgress>? progress,
        PreviewOptions? preview, string loraProvenance, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // diffusers applies guidance only above 1; at 1 (or below) the unconditional pass is skipped.
        bool guided = request.Guidance > 1.0;
        var cond = EncodeText([request.Prompt]);                                          // [1, L, D]
        var uncond = guided ? EncodeText([request.NegativePrompt]) : null;                // [1, L, D]

        var results = new List<GeneratedCandidate>(request.K);
        for (int start = 0; start < request.K; start += Options.MaxBatchSize)
        {
            int n = Math.Min(Options.MaxBatchSize, request.K - start);
            var decoded = DenoiseChunk(request, start, n, cond, uncond, progress, preview, results.Count, cancellationToken);
            for (int j = 0; j < n; j++)
            {
                int index = start + j;
                long seed = request.BaseSeed + index;
                results.Add(new GeneratedCandidate(index, seed, decoded[j].Image, Provenance(request, index, seed, loraProvenance), decoded[j].Latents));
            }
            progress?.Report(new GenerationProgress(request.Steps, request.Steps, results.Count, request.K));
        }
        return results;
    }

    /// <summary>Denoises candidates start..start+n-1 together and decodes them one by one; keeps each one's final latents.</summary>
    List<(RgbImage Image, CandidateLatents Latents)> DenoiseChunk(GenerationRequest request, int start, int n, Tensor cond, Tensor? uncond,
        IProgress<GenerationProgress>? progress, PreviewOptions? preview, int done, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        int f = SizeMultiple;
        long channels = Unet.Config.InChannels, h = request.Height / f, w = request.Width / f;
        var schedulers = new IScheduler[n];
        var generators = new Generator[n];
        try
        {
            var noise = new Tensor[n];
            for (int j = 0; j < n; j++)
            {
                schedulers[j] = SchedulerFactory.Create(request.Sampler, SchedulerConfig);
                schedulers[j].SetTimesteps(request.Steps);
                generators[j] = new Generator(unchecked((ulong)(request.BaseSeed + start + j)), Device);
                noise[j] = randn(new long[] { 1, channels, h, w }, dtype: ScalarType.Float32, device: Device, generator: generators[j]);
            }
            var latents = cat(noise, 0) * schedulers[0].InitNoiseSigma;                     // [n, C, h, w]
            var context = uncond is null
                ? cond.expand(n, -1, -1)                                                    // [n, L, D]
                : cat([uncond.expand(n, -1, -1), cond.expand(n, -1, -1)], 0);              // [2n, L, D]: uncond first, as diffusers

            var timesteps = schedulers[0].Timesteps;
            for (int step = 0; step < timesteps.Count; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var stepScope = NewDisposeScope();
                double t = timesteps[step];
                var modelIn = cat(Enumerable.Range(0, n).Select(j => schedulers[j].ScaleModelInput(latents[j..(j + 1)], t)).ToArray(), 0);  // [n, C, h, w]
                var unetIn = uncond is null ? modelIn : cat([modelIn, modelIn], 0);         // [n or 2n, C, h, w]
                // Weights may be fp16/bf16 (single files); latents and sampler math stay float32.
                var output = Unet.forward(unetIn.to(UnetDtype), tensor((float)t, device: Device), context.to(UnetDtype)).to(ScalarType.Float32);
                if (uncond is not null)
                {
                    var halves = output.chunk(2, 0);                                        // uncond, cond: [n, C, h, w] each
                    output = halves[0] + request.Guidance * (halves[1] - halves[0]);
                }
                var next = cat(Enumerable.Range(0, n)
                    .Select(j => schedulers[j].Step(output[j..(j + 1)], t, latents[j..(j + 1)], generators[j])).ToArray(), 0);
                if (preview is not null && (step + 1) % preview.EverySteps == 0 && step + 1 < timesteps.Count)
                    Preview(request, start, n, step, modelIn, output, t, preview);
                latents.Dispose();
                latents = next.MoveToOuterDisposeScope();
                progress?.Report(new GenerationProgress(step + 1, request.Steps, done, request.K));
            }

            // One candidate at a time: a VAE decode at full size is the largest activation of the run.
            var images = new List<(RgbImage, CandidateLatents)>(n);
            for (int j = 0; j < n; j++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var decodeScope = NewDisposeScope();
                var final = latents[j..(j + 1)];                                            // [1, C, h, w]
                var values = final.cpu().contiguous().data<float>().ToArray();
                images.Add((ImageTensors.ToRgbImage(Decode(final / Vae.ScalingFactor)), CandidateLatents.Create(values, (int)channels, (int)h, (int)w)));
            }
            return images;
        }
        finally
        {
            foreach (var s in schedulers) (s as IDisposable)?.Dispose();
            foreach (var g in generators) g?.Dispose();
        }
    }

    /// <summary>Decodes the clean latent the model output implies at timestep t (x̂₀ from the VP sample).</summary>
    void Preview(GenerationRequest request, int start, int n, int step, Tensor vpSample, Tensor output, double t, PreviewOptions preview)
    {
        using var scope = NewDisposeScope();
        // σ at a (possibly fractional) timestep as Euler interpolates it; ᾱ = 1 / (1 + σ²).
        var sigmas = NoiseSchedule.TrainSigmas(NoiseSchedule.AlphasCumprod(SchedulerConfig));
        double sigma = NoiseSchedule.Interp(t, sigmas);
        double alphaBar = 1.0 / (1.0 + sigma * sigma);
        double a = Math.Sqrt(alphaBar), s = Math.Sqrt(1 - alphaBar);
        var x0 = SchedulerConfig.IsVPrediction ? a * vpSample - s * output : (vpSample - s * output) / a;   // [n, C, h, w]
        if (preview.LatentDownscale > 1) x0 = F.avg_pool2d(x0, new long[] { preview.LatentDownscale, preview.LatentDownscale });
        for (int j = 0; j < n; j++)
        {
            var image = ImageTensors.ToRgbImage(Decode(x0[j..(j + 1)] / Vae.ScalingFactor));
            preview.OnPreview(new GenerationPreview(step + 1, request.Steps, start + j, request.BaseSeed + start + j, image));
        }
    }

    /// <summary>VAE decode in the VAE's dtype, returned as float32.</summary>
    Tensor Decode(Tensor latents) => Vae.Decode(latents.to(Vae.parameters().First().dtype)).to(ScalarType.Float32);

    Dictionary<string, string> Provenance(GenerationRequest r, int index, long seed, string loras)
    {
        string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["engine"] = "FineRewards.Diffusion.StableDiffusionPipeline",
            ["model"] = Name,
            ["model_hash"] = ModelHash,
            ["prompt"] = r.Prompt,
            ["negative_prompt"] = r.NegativePrompt,
            ["seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["base_seed"] = r.BaseSeed.ToString(CultureInfo.InvariantCulture),
            ["candidate_index"] = index.ToString(CultureInfo.InvariantCulture),
            ["k"] = r.K.ToString(CultureInfo.InvariantCulture),
            ["sampler"] = r.Sampler.ToLowerInvariant(),
            ["steps"] = r.Steps.ToString(CultureInfo.InvariantCulture),
            ["guidance"] = Num(r.Guidance),
            ["width"] = r.Width.ToString(CultureInfo.InvariantCulture),
            ["height"] = r.Height.ToString(CultureInfo.InvariantCulture),
            ["prediction_type"] = SchedulerConfig.PredictionType,
            ["loras"] = loras,
            ["device"] = Device.ToString(),
        };
    }

    public void Dispose()
    {
        TextEncoder.Dispose();
        Unet.Dispose();
        Vae.Dispose();
    }
}
