using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Contracts;
using FineRewards.Core.Packs;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Shapes.Grammar;
using FineRewards.Shapes.Rendering;
using FineRewards.Shapes.World;
using FineRewards.ShapesPack.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Diffusion;

/// <summary>Sizes of a VAE training run; the defaults are the shipped pack's.</summary>
/// <param name="EvalPrompts">Test-split prompts in the round-trip check (null = all 112).</param>
public sealed record VaeTrainOptions(
    int BatchSize = 16,
    double LearningRate = 1e-3,
    double KlWeight = 1e-6,
    double CheckpointMinutes = 4,
    int ScaleProbeImages = 256,
    int EvalSamplesPerPrompt = 2,
    int? EvalPrompts = null);

/// <summary>
/// Trains the pack's AutoencoderKL on freshly rendered spec scenes (prompt scenes of the train split
/// and random 1-4 object scenes), reconstruction MSE + a small KL term, and exports it to
/// diffusion/vae/. Its check: the evaluator's accuracy on VAE round trips of test-split renders,
/// measured on the exported (fp16) weights.
/// </summary>
public sealed class VaeTrainer(VaeTrainOptions? options = null) : IPackComponentTrainer
{
    readonly VaeTrainOptions o = options ?? new VaeTrainOptions();
    public const string Name = "vae";
    public const string Folder = "diffusion/vae";

    public string Component => Name;
    public string Description => "AutoencoderKL 64x64x3 -> 16x16x4 latent (diffusion/vae)";
    public IReadOnlyList<string> DependsOn => [];

    public PackComponent Train(PackTrainContext context)
    {
        torch.manual_seed(context.DataSeed);
        var clock = Stopwatch.StartNew();
        string checkpoint = context.WorkFolder;
        using var vae = new AutoencoderKL(ShapesDiffusionConfig.Vae());
        vae.train();
        using var optimizer = optim.AdamW(vae.parameters(), o.LearningRate, weight_decay: 0.0);
        long step = 0;
        double priorMinutes = 0;
        IReadOnlyList<string> commands = [context.CommandLine];
        double resumedLoss = double.NaN;
        if (context.Resume)
        {
            var state = TrainCheckpoint.Load(checkpoint, new Dictionary<string, nn.Module> { ["vae"] = vae }, optimizer);
            (step, priorMinutes, commands) = (state.Step, state.Minutes, state.WithCommand(context.CommandLine));
            resumedLoss = state.LastLoss;
            context.Progress($"vae: resumed at step {step} ({priorMinutes:0.0} min before)");
        }
        var random = new Random(unchecked((int)(context.DataSeed * 7919 + step)));
        var trainPrompts = PromptCatalog.Split(PromptSplit.Train);
        double lastLoss = resumedLoss, lossSum = 0;
        int lossCount = 0;
        var sinceSave = Stopwatch.StartNew();
        var sinceReport = Stopwatch.StartNew();
        long startStep = step;
        while (!context.BudgetSpent(clock, step - startStep))
        {
            using var scope = NewDisposeScope();
            var images = ImageTensors.FromRgbImages(Enumerable.Range(0, o.BatchSize).Select(_ => RandomRender(random, trainPrompts)).ToList());
            var (mean, logVar) = vae.Encode(images);                             // [B, 4, 16, 16] each
            var z = AutoencoderKL.Sample(mean, logVar);
            var recon = vae.Decode(z);                                          // [B, 3, 64, 64]
            var rec = nn.functional.mse_loss(recon, images);
            var kl = 0.5 * (mean.pow(2) + logVar.exp() - 1 - logVar).sum(new long[] { 1, 2, 3 }).mean();
            var loss = rec + o.KlWeight * kl;
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(vae.parameters(), 1.0);
            optimizer.step();
            step++;
            lastLoss = rec.item<float>();
            if (!double.IsFinite(lastLoss)) throw new InvalidOperationException($"vae: loss became {lastLoss} at step {step}");
            lossSum += lastLoss; lossCount++;
            if (sinceReport.Elapsed.TotalSeconds >= 30 || step == 1)
            {
                context.Progress($"vae: step {step} reconstruction mse {lossSum / lossCount:0.00000} ({priorMinutes + clock.Elapsed.TotalMinutes:0.0} min)");
                lossSum = 0; lossCount = 0;
                sinceReport.Restart();
            }
            if (sinceSave.Elapsed.TotalMinutes >= o.CheckpointMinutes)
            {
                Save(checkpoint, vae, optimizer, step, priorMinutes + clock.Elapsed.TotalMinutes, context.DataSeed, lastLoss, commands);
                sinceSave.Restart();
            }
        }
        double minutes = priorMinutes + clock.Elapsed.TotalMinutes;
        Save(checkpoint, vae, optimizer, step, minutes, context.DataSeed, lastLoss, commands);

        // Latent scale: SD multiplies latents by 1/std so the UNet sees unit variance.
        vae.eval();
        double std;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var probe = new Random(12345);
            var images = ImageTensors.FromRgbImages(Enumerable.Range(0, o.ScaleProbeImages).Select(_ => RandomRender(probe, trainPrompts)).ToList());
            std = vae.Encode(images).Mean.std().item<float>();
        }
        var config = ShapesDiffusionConfig.Vae(Math.Round(1.0 / std, 5));
        string folder = Path.Combine(context.PackFolder, Folder);
        StableDiffusionFolderWriter.WriteComponent(folder, StableDiffusionFolderWriter.ConfigNode(config, new Dictionary<string, JsonNode?> { ["_diffusers_version"] = StableDiffusionFolderWriter.DiffusersVersion }),
            vae, "diffusion_pytorch_model.safetensors", half: true);

        using var exported = AutoencoderKL.FromDiffusersFolder(folder);
        exported.eval();
        var roundTrip = VaeRoundTrip.Measure(exported, o.EvalSamplesPerPrompt, VaeRoundTrip.DefaultSeed, o.EvalPrompts);
        context.Progress($"vae: round trip of test-split renders (exported fp16 weights):\n{roundTrip.Format()}");
        var metrics = new Dictionary<string, double>
        {
            ["reconstruction_mse"] = Math.Round(lastLoss, 6),
            ["latent_std"] = Math.Round(std, 5),
        };
        foreach (var (k, v) in roundTrip.Metrics()) metrics[k] = v;
        var component = new PackComponent("diffusers-vae", Folder,
            JsonSerializer.SerializeToElement(StableDiffusionFolderWriter.ConfigNode(config)),
            new PackTraining(string.Join(" ; then ", commands), context.DataSeed, step, Math.Round(minutes, 2), DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), metrics));
        PackManifest.UpdateComponent(context.PackFolder, ShapesPackInfo.Name, Name, component, ShapesPackInfo.Description);
        return component;
    }


    static void Save(string folder, AutoencoderKL vae, TorchSharp.Modules.OptimizerHelper optimizer, long step, double minutes, long seed, double loss, IReadOnlyList<string> commands) =>
        TrainCheckpoint.Save(folder, new TrainState(step, minutes, seed, loss, commands), new Dictionary<string, nn.Module> { ["vae"] = vae }, optimizer);

    /// <summary>Half the time a scene of a train-split prompt, half the time 1-4 random objects.</summary>
    internal static RgbImage RandomRender(Random random, IReadOnlyList<PromptSpec> prompts) =>
        SceneRenderer.Render(random.Next(2) == 0
            ? SceneSampler.Sample(prompts[random.Next(prompts.Count)], random)
            : SceneSampler.RandomScene(1 + random.Next(Scene.MaxObjects), random));
}
