using System.Diagnostics;
using FineRewards.Contracts;
using System.Globalization;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Training;

/// <summary>Optimiser settings shared by the reader trainers.</summary>
public sealed record ReaderOptimizer(double LearningRate, int WarmupSteps = 100, double WeightDecay = 0.01, double ClipNorm = 1.0);

/// <summary>
/// The loop, checkpoints and pack files shared by the captioner, segmenter and contrastive trainers:
/// AdamW with warm-up and a cosine decay over the step or time budget, gradient clipping, a progress
/// line every <c>reportEvery</c> steps, a checkpoint (weights and step) in the work folder every two
/// minutes and at the end. Resume reloads the weights and continues the data stream at the saved step
/// (the optimiser moments restart).
/// </summary>
public static class ReaderTraining
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public sealed record LoopResult(long Steps, double Minutes, double FinalLoss, int FailedSteps);

    const int MaxFailedSteps = 25;

    /// <param name="step">Computes the loss of step s (data drawn from s, so resumes continue the same stream).</param>
    public static LoopResult Run(PackTrainContext context, string component, nn.Module model, ReaderOptimizer settings,
        Func<long, Tensor> step, int reportEvery = 50)
    {
        string checkpoint = Path.Combine(context.WorkFolder, component, "checkpoint.safetensors");
        long start = 0;
        if (context.Resume && File.Exists(checkpoint))
        {
            StateDictLoader.LoadFile(model, checkpoint);
            start = long.Parse(SafetensorsFile.ReadHeader(checkpoint).Metadata["step"], CultureInfo.InvariantCulture);
            context.Progress($"{component}: resumed at step {start} from {checkpoint}");
        }
        // Without a step budget the cosine runs over an estimate refined as steps are timed.
        long? budget = context.Steps;
        var parameters = model.parameters().ToList();
        var optimizer = optim.AdamW(parameters, settings.LearningRate, weight_decay: settings.WeightDecay);
        var clock = Stopwatch.StartNew();
        var lastSave = clock.Elapsed;
        double ema = double.NaN, last = double.NaN;
        long s = start;
        int failed = 0;
        model.train();
        for (; ; s++)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            double minutes = clock.Elapsed.TotalMinutes;
            if (budget is long n && s >= n) break;
            if (budget is null && minutes >= context.Minutes) break;
            double progress = budget is long total ? (double)s / total : minutes / context.Minutes;
            double lr = settings.LearningRate * Math.Min(1, (s + 1.0) / settings.WarmupSteps) * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

            try
            {
                long at = s;
                last = Nn.NativeCalls.Run(() =>
                {
                    using var scope = NewDisposeScope();
                    optimizer.zero_grad();
                    var loss = step(at);
                    loss.backward();
                    nn.utils.clip_grad_norm_(parameters, settings.ClipNorm);
                    optimizer.step();
                    return loss.item<float>();
                });
            }
            catch (System.Runtime.InteropServices.ExternalException e) when (++failed <= MaxFailedSteps)
            {
                // libtorch rejected a step (TorchSharp's finalizer race on implicit Scalars, see SafeScalars);
                // the step's update is dropped and the data stream moves on.
                context.Progress($"{component}: step {s + 1} failed in libtorch and was skipped ({failed}/{MaxFailedSteps}): {e.Message.Split('\n')[0]}");
                continue;
            }
            if (!double.IsFinite(last)) throw new InvalidOperationException($"{component}: loss became {last} at step {s}");
            ema = double.IsNaN(ema) ? last : 0.98 * ema + 0.02 * last;
            if ((s + 1) % reportEvery == 0)
                context.Progress($"{component}: step {s + 1}{(budget is long b ? $"/{b}" : "")} loss {ema:0.0000} lr {lr:0.00e0} {clock.Elapsed.TotalMinutes:0.0} min");
            if ((clock.Elapsed - lastSave).TotalMinutes >= 2)
            {
                SaveCheckpoint(model, checkpoint, s + 1);
                lastSave = clock.Elapsed;
            }
        }
        SaveCheckpoint(model, checkpoint, s);
        model.eval();
        return new LoopResult(s, clock.Elapsed.TotalMinutes, ema, failed);
    }

    static void SaveCheckpoint(nn.Module model, string path, long step)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SafetensorsFile.Write(path, model.state_dict(), new Dictionary<string, string> { ["step"] = step.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>Writes <c>model.safetensors</c> (float weights as fp16 when <paramref name="fp16"/>) into the component folder.</summary>
    public static void SaveWeights(nn.Module model, string folder, bool fp16)
    {
        Directory.CreateDirectory(folder);
        using var scope = NewDisposeScope();
        var tensors = model.state_dict().ToDictionary(kv => kv.Key,
            kv => fp16 && kv.Value.dtype == ScalarType.Float32 ? kv.Value.to(ScalarType.Float16) : kv.Value);
        SafetensorsFile.Write(Path.Combine(folder, "model.safetensors"), tensors);
    }

    public static void SaveConfig<T>(string folder, T config)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config, Json));
    }

    public static T LoadConfig<T>(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new InputException(path, "reader model config.json not found (is the pack trained? `finerewards pack train shapes`)");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path)) ?? throw new InputException(path, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not a valid {typeof(T).Name} ({e.Message})");
        }
    }

    public static void LoadWeights(nn.Module model, string folder)
    {
        string path = Path.Combine(folder, "model.safetensors");
        if (!File.Exists(path)) throw new InputException(path, "reader model weights not found (is the pack trained? `finerewards pack train shapes`)");
        StateDictLoader.LoadFile(model, path);
        model.eval();
    }

    /// <summary>
    /// Writes a trained reader into the pack (config + fp16 weights), measures the weights as shipped
    /// (after the fp16 round trip, so pack.json reports what users get) and records the component.
    /// </summary>
    public static PackComponent Ship<TConfig, TShipped>(PackTrainContext context, string component, TConfig config, nn.Module model, LoopResult loop,
        Func<string, TShipped> load, Func<TShipped, IReadOnlyDictionary<string, double>> measure) where TShipped : IDisposable
    {
        string folder = Path.Combine(context.PackFolder, component);
        SaveConfig(folder, config);
        SaveWeights(model, folder, fp16: true);
        IReadOnlyDictionary<string, double> metrics;
        using (var shipped = load(context.PackFolder)) metrics = measure(shipped);
        context.Progress($"{component}: " + string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value:0.###}")));
        return Record(context, component, config, loop,
            new Dictionary<string, double>(metrics) { ["final_loss"] = Math.Round(loop.FinalLoss, 5), ["skipped_steps"] = loop.FailedSteps });
    }

    /// <summary>Records the component in pack.json with its config and training record.</summary>
    public static PackComponent Record<T>(PackTrainContext context, string component, T config, LoopResult loop, IReadOnlyDictionary<string, double> metrics)
    {
        var record = new PackComponent(component, component, JsonSerializer.SerializeToElement(config),
            new PackTraining(context.CommandLine, context.DataSeed, loop.Steps, Math.Round(loop.Minutes, 2),
                DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), metrics));
        PackManifest.UpdateComponent(context.PackFolder, ShapesPackInfo.Name, component, record, ShapesPackInfo.Description);
        return record;
    }
}
