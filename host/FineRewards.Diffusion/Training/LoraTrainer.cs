using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Diffusion.Lora;
using FineRewards.Diffusion.Pipelines;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Training;

/// <summary>Trainer settings beyond the contract's <see cref="LoraTrainingOptions"/>.</summary>
/// <param name="WeightDecay">AdamW's decoupled weight decay.</param>
/// <param name="MaxGradNorm">Gradients are clipped to this global L2 norm before each step.</param>
/// <param name="CheckpointEvery">Write a resumable checkpoint every this many steps (0: none).</param>
/// <param name="CheckpointFolder">Where checkpoints go (default: "&lt;output&gt;.checkpoints").</param>
/// <param name="ResumeFrom">A checkpoint folder (step-NNNNNN) to continue from; options and data must match it.</param>
/// <param name="Layout">File layout of the saved adapter (checkpoints are always PEFT).</param>
public sealed record LoraTrainerSettings(
    double WeightDecay = 1e-2,
    double MaxGradNorm = 1.0,
    int CheckpointEvery = 0,
    string? CheckpointFolder = null,
    string? ResumeFrom = null,
    LoraAdapter.FileLayout Layout = LoraAdapter.FileLayout.Peft);

/// <summary>
/// RAFT fine-tuning: trains a LoRA adapter on the pipeline's UNet so it denoises the given images for
/// their prompts. A pair that carries the latents it was generated from is learned from those exactly;
/// only the other pairs (images from outside) become latents through the VAE posterior MEAN times the
/// scaling factor (no sampling: the target is deterministic and needs no extra seed). Re-encoding a
/// generated image instead would teach the model the VAE round trip's colour errors. Prompts go
/// through the frozen text encoder once, unless the options' targets adapt the text encoder: then each
/// step encodes its batch's prompts with the adapter attached and backpropagates through the encoder. Each step draws noise and timesteps from a generator seeded by (seed, step), and
/// batches from a per-epoch permutation seeded by (seed, epoch), so a run resumed from a checkpoint
/// replays exactly the steps the uninterrupted run would have taken.
/// </summary>
public sealed class LoraTrainer(StableDiffusionPipeline pipeline, LoraTrainerSettings? settings = null) : ILoraTrainer
{
    public LoraTrainerSettings Settings { get; } = settings ?? new LoraTrainerSettings();

    const string AdapterFile = "adapter.safetensors";
    const string OptimizerFile = "optimizer.bin";
    const string StateFile = "state.json";

    public string Train(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions options, string outputPath,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate(pairs, options);
        lock (pipeline.Gate)
        {
            var unet = pipeline.Unet;
            var dataHashes = pairs.Select(HashPair).ToList();
            string dataHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", dataHashes))));
            var config = new LoraConfig(options.Rank, options.Alpha, options.Targets);
            var textEncoder = config.IncludesTextEncoder ? pipeline.TextEncoder : null;
            var frozen = unet.parameters().Concat(textEncoder?.parameters() ?? []).Select(p => (p, p.requires_grad)).ToList();
            using var data = new TrainingData(pipeline, pairs, EncodeImage ?? DefaultEncode);
            using var adapter = LoraAdapter.Create(unet, config, options.Seed, textEncoder);
            var trainable = adapter.parameters().ToList();
            using var optimizer = optim.AdamW(trainable, lr: options.LearningRate, weight_decay: Settings.WeightDecay);
            int startStep = 0;
            if (Settings.ResumeFrom is { } resume) startStep = LoadCheckpoint(resume, adapter, optimizer, options, dataHash);

            foreach (var (p, _) in frozen) p.requires_grad = false;
            try
            {
                using var attached = adapter.Attach(unet, textEncoder);
                var objective = new DiffusionObjective(pipeline.SchedulerConfig);
                for (int step = startStep; step < options.Steps; step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = options.LearningRateAt(step);
                    double loss = Step(unet, objective, data, trainable, optimizer, options, step, textEncoder is not null, adapter);
                    progress?.Report(new TrainingProgress(step + 1, options.Steps, loss));
                    if (Settings.CheckpointEvery > 0 && (step + 1) % Settings.CheckpointEvery == 0 && step + 1 < options.Steps)
                        SaveCheckpoint(CheckpointRoot(outputPath), step + 1, adapter, optimizer, options, dataHash);
                }
            }
            finally
            {
                foreach (var (p, requiresGrad) in frozen) p.requires_grad = requiresGrad;
            }

            var metadata = new Dictionary<string, string>
            {
                ["finerewards.base_model"] = pipeline.Name,
                ["finerewards.base_model_hash"] = pipeline.ModelHash,
                ["finerewards.steps"] = options.Steps.ToString(CultureInfo.InvariantCulture),
                ["finerewards.learning_rate"] = options.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
                ["finerewards.seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                ["finerewards.weight_decay"] = Settings.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.max_grad_norm"] = Settings.MaxGradNorm.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.prediction_type"] = pipeline.SchedulerConfig.PredictionType,
                ["finerewards.latents"] = $"{data.Exact} exact generated latents, {pairs.Count - data.Exact} vae posterior mean x scaling_factor",
                ["finerewards.prompt_dropout"] = options.PromptDropout.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.lr_schedule"] = options.LearningRateSchedule,
                ["finerewards.targets"] = options.Targets,
                ["finerewards.min_timestep"] = options.MinTimestep.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.objective"] = options.Objective,
                ["finerewards.dpo_beta"] = options.DpoBeta.ToString("R", CultureInfo.InvariantCulture),
                ["finerewards.data_count"] = pairs.Count.ToString(CultureInfo.InvariantCulture),
                ["finerewards.data_sha256"] = dataHash,
                ["finerewards.data_hashes"] = JsonSerializer.Serialize(dataHashes),
            };
            var directory = Path.GetDirectoryName(Path.GetFullPath(outputPath));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            adapter.Save(outputPath, Settings.Layout, metadata);
            return outputPath;
        }
    }

    /// <summary>One optimiser step on the step's batch; returns its loss.</summary>
    /// <param name="encodeText">Encode the batch's prompts now, through the adapted text encoder, instead of using the cached states.</param>
    double Step(nn.Module unet, DiffusionObjective objective, TrainingData data, IList<Parameter> trainable,
        optim.Optimizer optimizer, LoraTrainingOptions options, int step, bool encodeText, LoraAdapter adapter)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var model = (Models.UNet.UNet2DConditionModel)unet;
        optimizer.zero_grad();
        var indices = BatchIndices(step, options.BatchSize, data.Count, options.Seed);
        var index = tensor(indices, dtype: ScalarType.Int64, device: pipeline.Device);
        var latents = data.Latents.index_select(0, index);                        // [B, C, h, w]
        var drop = zeros(new long[] { index.shape[0] }, ScalarType.Bool, device: pipeline.Device);   // [B]
        if (options.PromptDropout > 0)
        {
            using var dropGenerator = new Generator(Mix(options.Seed, 3, step), pipeline.Device);
            drop = rand(new long[] { index.shape[0] }, generator: dropGenerator, device: pipeline.Device).lt(options.PromptDropout);
        }
        Tensor text;                                                              // [B, L, D]
        if (encodeText)
        {
            var dropped = drop.cpu().data<bool>().ToArray();
            text = pipeline.EncodeText(indices.Select((i, j) => dropped[j] ? "" : data.Prompts[(int)i]).ToList());
        }
        else
            text = where(drop.view(-1, 1, 1), data.Empty.expand(index.shape[0], -1, -1), data.Text.index_select(0, index));
        using var generator = new Generator(Mix(options.Seed, 1, step), pipeline.Device);
        int minTimestep = objective.TimestepAt(options.MinTimestep);
        Tensor loss;
        if (options.Objective == LoraObjectives.Dpo)
        {
            var rejected = data.Rejected!.index_select(0, index);                  // [B, C, h, w]
            Tensor Reference(Tensor x, Tensor t, Tensor c)
            {
                adapter.Bypassed = true;
                try { return model.forward(x, t, c); }
                finally { adapter.Bypassed = false; }
            }
            loss = objective.PreferenceLoss((x, t, c) => model.forward(x, t, c), Reference, latents, rejected, text, options.DpoBeta, generator, minTimestep);
        }
        else
            loss = objective.Loss((x, t, c) => model.forward(x, t, c), latents, text, generator, minTimestep);
        loss.backward();
        nn.utils.clip_grad_norm_(trainable, Settings.MaxGradNorm);
        optimizer.step();
        return loss.item<float>();
    }

    /// <summary>The pair indices of a step: consecutive slices of per-epoch permutations (seeded by seed and epoch).</summary>
    public static long[] BatchIndices(int step, int batchSize, int count, long seed)
    {
        var result = new long[batchSize];
        int[]? order = null;
        long orderEpoch = -1;
        for (int j = 0; j < batchSize; j++)
        {
            long position = (long)step * batchSize + j;
            long epoch = position / count;
            if (epoch != orderEpoch)
            {
                order = Permutation(count, Mix(seed, 2, epoch));
                orderEpoch = epoch;
            }
            result[j] = order![position % count];
        }
        return result;
    }

    static int[] Permutation(int count, ulong seed)
    {
        // Fisher–Yates with .NET's seeded generator: cheap and identical on every platform.
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        var order = Enumerable.Range(0, count).ToArray();
        random.Shuffle(order);
        return order;
    }

    /// <summary>SplitMix64 of (seed, stream, index): independent seeds for data order and per-step noise.</summary>
    static ulong Mix(long seed, long stream, long index)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)stream * 0xBF58476D1CE4E5B9UL + (ulong)index * 0x94D049BB133111EBUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    void Validate(IReadOnlyList<TrainingPair> pairs, LoraTrainingOptions o)
    {
        if (pairs.Count == 0) throw new InputException("pairs", "needs at least one image-prompt pair");
        if (o.Rank < 1) throw new InputException("rank", $"must be at least 1, got {o.Rank}");
        if (!double.IsFinite(o.Alpha) || o.Alpha <= 0) throw new InputException("alpha", $"must be positive, got {o.Alpha}");
        if (!double.IsFinite(o.LearningRate) || o.LearningRate <= 0) throw new InputException("learning_rate", $"must be positive, got {o.LearningRate}");
        if (o.Steps < 1) throw new InputException("steps", $"must be at least 1, got {o.Steps}");
        if (o.BatchSize < 1) throw new InputException("batch_size", $"must be at least 1, got {o.BatchSize}");
        if (!(o.PromptDropout >= 0 && o.PromptDropout < 1)) throw new InputException("prompt_dropout", $"must be in [0, 1), got {o.PromptDropout}");
        if (!LoraTrainingOptions.Schedules.Contains(o.LearningRateSchedule))
            throw new InputException("lr_schedule", $"\"{o.LearningRateSchedule}\"; expected one of {string.Join(", ", LoraTrainingOptions.Schedules)}");
        if (!(o.MinTimestep >= 0 && o.MinTimestep < 1)) throw new InputException("min_timestep", $"must be in [0, 1), got {o.MinTimestep}");
        if (!LoraObjectives.All.Contains(o.Objective))
            throw new InputException("objective", $"\"{o.Objective}\"; expected one of {string.Join(", ", LoraObjectives.All)}");
        if (o.Objective == LoraObjectives.Dpo)
        {
            if (!(double.IsFinite(o.DpoBeta) && o.DpoBeta > 0)) throw new InputException("dpo_beta", $"must be positive, got {o.DpoBeta}");
            if (o.Targets == LoraTargets.UNetText) throw new InputException("targets", "the preference objective adapts the UNet only; its reference is the frozen text encoder's prompt states");
            int missing = pairs.ToList().FindIndex(p => p.Rejected is null);
            if (missing >= 0) throw new InputException($"pairs[{missing}].rejected", "the preference objective needs a rejected image for every pair");
        }
        if (!LoraTargets.All.Contains(o.Targets))
            throw new InputException("targets", $"\"{o.Targets}\"; expected one of {string.Join(", ", LoraTargets.All)}");
        if (Settings.CheckpointEvery < 0) throw new InputException("checkpoint_every", "must be 0 (off) or positive");
        if (!double.IsFinite(Settings.MaxGradNorm) || Settings.MaxGradNorm <= 0) throw new InputException("max_grad_norm", "must be positive");
        int f = pipeline.SizeMultiple;
        var first = pairs[0].Image;
        for (int i = 0; i < pairs.Count; i++)
        {
            var image = pairs[i].Image;
            if (string.IsNullOrWhiteSpace(pairs[i].Prompt)) throw new InputException($"pairs[{i}].prompt", "must not be empty");
            if (image.Width % f != 0 || image.Height % f != 0)
                throw new InputException($"pairs[{i}].image", $"{image.Width}x{image.Height} is not a multiple of {f} (the VAE's downsampling factor)");
            if (image.Width != first.Width || image.Height != first.Height)
                throw new InputException($"pairs[{i}].image", $"{image.Width}x{image.Height} differs from the first image's {first.Width}x{first.Height}; batches need one size");
            if (pairs[i].Latents is { } l && (l.Channels != pipeline.Vae.Config.LatentChannels || l.Height * f != image.Height || l.Width * f != image.Width))
                throw new InputException($"pairs[{i}].latents", $"shape [{l.Channels}, {l.Height}, {l.Width}] does not fit a {image.Width}x{image.Height} image of this model ({pipeline.Vae.Config.LatentChannels} latent channels, factor {f})");
        }
    }

    static string HashPair(TrainingPair pair)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{pair.Prompt}\n{pair.Image.Width}x{pair.Image.Height}\n"));
        sha.AppendData(pair.Image.Pixels);
        if (pair.Latents is { } latents) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(latents.Data.AsSpan()));
        if (pair.Rejected is { } rejected)
        {
            sha.AppendData(Encoding.UTF8.GetBytes("\nrejected\n"));
            sha.AppendData(rejected.Image.Pixels);
            if (rejected.Latents is { } l) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(l.Data.AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    string CheckpointRoot(string outputPath) => Settings.CheckpointFolder ?? Path.GetFullPath(outputPath) + ".checkpoints";

    sealed record CheckpointState(int Step, int Rank, double Alpha, double LearningRate, int Steps, int BatchSize, long Seed,
        double WeightDecay, string Targets, string DataSha256, string BaseModelHash, double PromptDropout = 0, string LearningRateSchedule = "constant", double MinTimestep = 0,
        string Objective = LoraObjectives.Raft, double DpoBeta = 2000);

    CheckpointState StateOf(int step, LoraTrainingOptions o, string dataHash) =>
        new(step, o.Rank, o.Alpha, o.LearningRate, o.Steps, o.BatchSize, o.Seed, Settings.WeightDecay, o.Targets, dataHash, pipeline.ModelHash,
            o.PromptDropout, o.LearningRateSchedule, o.MinTimestep, o.Objective, o.DpoBeta);

    /// <summary>Writes step-NNNNNN/ (adapter, AdamW moments, state) under a temporary name, then renames it.</summary>
    void SaveCheckpoint(string root, int step, LoraAdapter adapter, AdamW optimizer, LoraTrainingOptions options, string dataHash)
    {
        Directory.CreateDirectory(root);
        var final = Path.Combine(root, $"step-{step:D6}");
        var temp = final + $".tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try
        {
            adapter.Save(Path.Combine(temp, AdapterFile), LoraAdapter.FileLayout.Peft);
            optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(StateOf(step, options, dataHash), new JsonSerializerOptions { WriteIndented = true }));
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    int LoadCheckpoint(string folder, LoraAdapter adapter, AdamW optimizer, LoraTrainingOptions options, string dataHash)
    {
        var statePath = Path.Combine(folder, StateFile);
        if (!File.Exists(statePath)) throw new InputException("resume", $"{folder} is not a checkpoint (no {StateFile})");
        CheckpointState saved;
        try
        {
            saved = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath)) ?? throw new InputException(statePath, "empty state");
        }
        catch (JsonException e)
        {
            throw new InputException(statePath, $"not a checkpoint state ({e.Message})");
        }
        var expected = StateOf(saved.Step, options, dataHash);
        if (saved != expected)
            throw new InputException("resume", $"{folder} was made by another run: saved {saved}, this run {expected}");
        using var loaded = LoraAdapter.Load(Path.Combine(folder, AdapterFile), pipeline.Unet, pipeline.TextEncoder);
        if (!loaded.Parts.Keys.ToHashSet().SetEquals(adapter.Parts.Keys))
            throw new InputException("resume", $"{folder}: the checkpoint adapts other layers than this run");
        using (no_grad())
        {
            foreach (var (path, part) in adapter.Parts)
            {
                part.DownWeight.copy_(loaded.Parts[path].DownWeight);
                part.UpWeight.copy_(loaded.Parts[path].UpWeight);
            }
        }
        optimizer.load_state_dict(Path.Combine(folder, OptimizerFile));
        return saved.Step;
    }

    /// <summary>The VAE encoding of an image: posterior mean x scaling factor, [1, C, h, w]. Replaceable so tests can count encodes.</summary>
    public Func<RgbImage, Tensor>? EncodeImage { get; init; }

    Tensor DefaultEncode(RgbImage image)
    {
        var (mean, _) = pipeline.Vae.Encode(ImageTensors.FromRgbImage(image, pipeline.Device));   // [1, C, h, w]
        return mean * pipeline.Vae.ScalingFactor;
    }

    /// <summary>Latents and text states of every pair, computed once with the frozen VAE (pairs without latents only) and text encoder.</summary>
    sealed class TrainingData : IDisposable
    {
        public Tensor Latents { get; }   // [N, C, h, w]
        public Tensor? Rejected { get; } // [N, C, h, w]: each pair's rejected image, when every pair has one
        public Tensor Text { get; }      // [N, L, D]
        public Tensor Empty { get; }     // [1, L, D]: the empty prompt, for prompt dropout
        public IReadOnlyList<string> Prompts { get; }
        public int Count { get; }
        /// <summary>How many pairs brought their own latents.</summary>
        public int Exact { get; }

        public TrainingData(StableDiffusionPipeline pipeline, IReadOnlyList<TrainingPair> pairs, Func<RgbImage, Tensor> encode)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Count = pairs.Count;
            Prompts = pairs.Select(p => p.Prompt).ToList();
            Exact = pairs.Count(p => p.Latents is not null);
            Tensor Latent(RgbImage image, CandidateLatents? exact)
            {
                using var inner = NewDisposeScope();
                var x = exact is not null ? ImageTensors.FromLatents(exact, pipeline.Device) : encode(image);   // [1, C, h, w]
                return x.MoveToOuterDisposeScope();
            }
            Latents = cat(pairs.Select(p => Latent(p.Image, p.Latents)).ToList(), 0).DetachFromDisposeScope();
            if (pairs.All(p => p.Rejected is not null))
                Rejected = cat(pairs.Select(p => Latent(p.Rejected!.Image, p.Rejected.Latents)).ToList(), 0).DetachFromDisposeScope();
            var prompts = pairs.Select(p => p.Prompt).Distinct().ToList();
            var encoded = pipeline.EncodeText([.. prompts, ""]);                                           // [P + 1, L, D]
            var row = prompts.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => (long)x.i);
            Text = encoded.index_select(0, tensor(pairs.Select(p => row[p.Prompt]).ToArray(), device: pipeline.Device)).DetachFromDisposeScope();
            Empty = encoded[prompts.Count..(prompts.Count + 1)].clone().DetachFromDisposeScope();
        }

        public void Dispose()
        {
            Latents.Dispose();
            Rejected?.Dispose();
            Text.Dispose();
            Empty.Dispose();
        }
    }
}
