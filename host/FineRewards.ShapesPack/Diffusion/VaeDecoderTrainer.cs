using System.Diagnostics;
using FineRewards.Contracts;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Core;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Shapes.Grammar;
using FineRewards.ShapesPack.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>Sizes of a decoder fine-tuning run; the defaults are the shipped pack's.</summary>
/// <param name="InkWeight">Extra weight of the L1 term on inked pixels (1 - min channel, in [0, 1]): shapes cover ~10% of a
/// render, so without it the white background dominates the loss and object colours are what drifts.</param>
/// <param name="EvalPrompts">Test-split prompts in the round-trip check (null = all 112).</param>
public sealed record VaeDecoderTrainOptions(
    int BatchSize = 16,
    double LearningRate = 5e-4,
    int WarmupSteps = 50,
    double InkWeight = 4.0,
    double CheckpointMinutes = 4,
    int EvalSamplesPerPrompt = 2,
    int? EvalPrompts = null);

/// <summary>
/// Fine-tunes only the decoder side of the pack's VAE (post_quant_conv + decoder) on latents of the
/// frozen encoder, so the latent space the diffusion model was trained on stays exactly as it is:
/// the exported encoder weights are checked to be bit-identical to the ones it started from. Loss:
/// L1 weighted towards inked pixels plus MSE, on posterior samples of fresh seeded renders (the
/// distribution the decoder was first trained on). Check: <see cref="VaeRoundTrip"/> before (fresh
/// runs) and after, on the exported fp16 weights.
/// </summary>
public sealed class VaeDecoderTrainer(VaeDecoderTrainOptions? options = null) : IPackComponentTrainer
{
    readonly VaeDecoderTrainOptions o = options ?? new VaeDecoderTrainOptions();
    public const string Name = "vae-decoder";
    /// <summary>The modules of <see cref="AutoencoderKL"/> that are trained; everything else (encoder, quant_conv) is frozen.</summary>
    static readonly string[] DecoderModules = ["post_quant_conv", "decoder"];
    const string BeforeFile = "before.json";

    public string Component => Name;
    public string Description => "fine-tunes the VAE's decoder on frozen-encoder latents (diffusion/vae; the latent space is unchanged)";
    public IReadOnlyList<string> DependsOn => [VaeTrainer.Name];

    public PackComponent Train(PackTrainContext context)
    {
        torch.manual_seed(context.DataSeed);
        var clock = Stopwatch.StartNew();
        string folder = Path.Combine(context.PackFolder, VaeTrainer.Folder);
        if (!File.Exists(Path.Combine(folder, "config.json")))
            throw new InputException("--component", $"{Name} needs the trained VAE in {folder}; train --component {VaeTrainer.Name} first");
        using var vae = AutoencoderKL.FromDiffusersFolder(folder);
        var frozen = FrozenWeights(vae);
        var modules = vae.named_children().Where(c => DecoderModules.Contains(c.name)).ToDictionary(c => c.name, c => c.module);
        var trained = modules.Values.SelectMany(m => m.parameters()).ToList();
        foreach (var p in vae.parameters()) p.requires_grad = false;
        foreach (var p in trained) p.requires_grad = true;
        using var optimizer = optim.AdamW(trained, o.LearningRate, weight_decay: 0.0);

        string checkpoint = context.WorkFolder;
        long step = 0;
        double priorMinutes = 0, lastLoss = double.NaN;
        IReadOnlyList<string> commands = [context.CommandLine];
        if (context.Resume)
        {
            var state = TrainCheckpoint.Load(checkpoint, modules, optimizer);
            (step, priorMinutes, commands, lastLoss) = (state.Step, state.Minutes, state.WithCommand(context.CommandLine), state.LastLoss);
            context.Progress($"{Name}: resumed at step {step} ({priorMinutes:0.0} min before)");
        }
        else
        {
            vae.eval();
            var before = VaeRoundTrip.Measure(vae, o.EvalSamplesPerPrompt, VaeRoundTrip.DefaultSeed, o.EvalPrompts);
            context.Progress($"{Name}: round trip with the decoder it starts from:\n{before.Format()}");
            Directory.CreateDirectory(checkpoint);
            AtomicFile.WriteAllText(Path.Combine(checkpoint, BeforeFile), JsonSerializer.Serialize(before.Metrics()));
        }

        vae.train();
        var random = new Random(unchecked((int)(context.DataSeed * 7919 + step + 1)));
        var trainPrompts = PromptCatalog.Split(PromptSplit.Train);
        double lossSum = 0;
        int lossCount = 0;
        long startStep = step;
        var sinceSave = Stopwatch.StartNew();
        var sinceReport = Stopwatch.StartNew();
        while (!context.BudgetSpent(clock, step - startStep))
        {
            using var scope = NewDisposeScope();
            var images = ImageTensors.FromRgbImages(Enumerable.Range(0, o.BatchSize).Select(_ => VaeTrainer.RandomRender(random, trainPrompts)).ToList());   // [B, 3, 64, 64]
            Tensor z;
            using (no_grad())
            {
                var (mean, logVar) = vae.Encode(images);                                    // [B, 4, 16, 16] each
                z = AutoencoderKL.Sample(mean, logVar);
            }
            var recon = vae.Decode(z);                                                      // [B, 3, 64, 64]
            var ink = 1 - (images.min(1, keepdim: true).values + 1) / 2;                   // [B, 1, 64, 64], 0 on white
            var weight = 1 + o.InkWeight * ink;
            var l1 = ((recon - images).abs() * weight).sum() / (weight.sum() * 3);
            var mse = nn.functional.mse_loss(recon, images);
            var loss = l1 + mse;
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(trained, 1.0);
            double lr = o.LearningRate * Math.Min(1.0, (step + 1.0) / o.WarmupSteps);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            optimizer.step();
            step++;
            lastLoss = loss.item<float>();
            if (!double.IsFinite(lastLoss)) throw new InvalidOperationException($"{Name}: loss became {lastLoss} at step {step}");
            lossSum += lastLoss; lossCount++;
            if (sinceReport.Elapsed.TotalSeconds >= 30 || step == startStep + 1)
            {
                double minutes = clock.Elapsed.TotalMinutes;
                context.Progress($"{Name}: step {step} loss (ink-weighted L1 + mse) {lossSum / lossCount:0.00000} lr {lr:0.0e0} " +
                                 $"({priorMinutes + minutes:0.0} min, {(step - startStep) / Math.Max(minutes, 1e-9):0} steps/min)");
                lossSum = 0; lossCount = 0;
                sinceReport.Restart();
            }
            if (sinceSave.Elapsed.TotalMinutes >= o.CheckpointMinutes)
            {
                TrainCheckpoint.Save(checkpoint, new TrainState(step, priorMinutes + clock.Elapsed.TotalMinutes, context.DataSeed, lastLoss, commands), modules, optimizer);
                sinceSave.Restart();
            }
        }
        double trainMinutes = priorMinutes + clock.Elapsed.TotalMinutes;
        TrainCheckpoint.Save(checkpoint, new TrainState(step, trainMinutes, context.DataSeed, lastLoss, commands), modules, optimizer);

        // The config (scaling factor included) is written back unchanged: only decoder weights differ.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        StableDiffusionFolderWriter.WriteComponent(folder, config, vae, "diffusion_pytorch_model.safetensors", half: true);
        using var exported = AutoencoderKL.FromDiffusersFolder(folder);
        CheckFrozen(exported, frozen);
        foreach (var t in frozen.Values) t.Dispose();
        exported.eval();
        var after = VaeRoundTrip.Measure(exported, o.EvalSamplesPerPrompt, VaeRoundTrip.DefaultSeed, o.EvalPrompts);
        context.Progress($"{Name}: round trip of test-split renders (exported fp16 weights):\n{after.Format()}");

        var metrics = new Dictionary<string, double> { ["loss"] = Math.Round(lastLoss, 6) };
        foreach (var (k, v) in after.Metrics()) metrics[k] = v;
        string beforePath = Path.Combine(checkpoint, BeforeFile);
        if (File.Exists(beforePath))
            foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(beforePath))!) metrics["before_" + k] = v;
        var record = new JsonObject
        {
            ["trained_modules"] = new JsonArray(DecoderModules.Select(m => (JsonNode?)m).ToArray()),
            ["batch_size"] = o.BatchSize,
            ["learning_rate"] = o.LearningRate,
            ["warmup_steps"] = o.WarmupSteps,
            ["ink_weight"] = o.InkWeight,
            ["loss"] = "ink-weighted L1 + MSE on posterior samples of the frozen encoder",
        };
        var component = new PackComponent("diffusers-vae-decoder", VaeTrainer.Folder, JsonSerializer.SerializeToElement(record),
            new PackTraining(string.Join(" ; then ", commands), context.DataSeed, step, Math.Round(trainMinutes, 2), DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), metrics));
        PackManifest.UpdateComponent(context.PackFolder, ShapesPackInfo.Name, Name, component, ShapesPackInfo.Description);
        return component;
    }


    /// <summary>Copies of every weight outside the trained modules (encoder, quant_conv), as loaded from the pack.</summary>
    static Dictionary<string, Tensor> FrozenWeights(AutoencoderKL vae) =>
        vae.state_dict().Where(kv => !DecoderModules.Any(m => kv.Key.StartsWith(m + ".", StringComparison.Ordinal)))
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>The diffusion model was trained on this encoder's latents: a changed bit would silently shift them.</summary>
    static void CheckFrozen(AutoencoderKL exported, IReadOnlyDictionary<string, Tensor> frozen)
    {
        var state = exported.state_dict();
        foreach (var (name, want) in frozen)
            if (!state[name].allclose(want, rtol: 0, atol: 0))
                throw new InvalidOperationException($"{Name}: the exported VAE's {name} differs from the frozen encoder it started from");
    }
}
