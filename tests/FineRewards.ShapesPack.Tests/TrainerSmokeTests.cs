using FineRewards.Core.Packs;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Models.Vae;
using FineRewards.Diffusion.TextEncoder;
using FineRewards.ShapesPack.Diffusion;
using FineRewards.ShapesPack.Training;
using static TorchSharp.torch;

namespace FineRewards.ShapesPack.Tests;

/// <summary>A few steps of each trainer in a temporary folder: finite loss, a pack.json entry, an export the loaders read back exactly.</summary>
public class TrainerSmokeTests
{
    static PackTrainContext Context(string root, string component, long steps, bool resume = false) =>
        new(Path.Combine(root, "pack"), Path.Combine(root, "work", component), DataSeed: 3, Minutes: 5, Steps: steps,
            Resume: resume, CommandLine: "test", Progress: _ => { });

    static void AssertSame(nn.Module loaded, string checkpoint)
    {
        var expected = StateDictLoader.ReadSafetensors(checkpoint);
        foreach (var (name, tensor) in loaded.state_dict())
        {
            // The export is fp16: the loaded fp32 weights are the checkpoint's rounded to half precision.
            var want = expected[name].to_type(ScalarType.Float16).to_type(ScalarType.Float32);
            Assert.True(want.allclose(tensor, rtol: 0, atol: 0), $"{name} differs from the fp16-rounded trained weights");
        }
    }

    [Fact]
    public void Vae_then_diffusion_train_resume_export_and_load_back()
    {
        string root = Directory.CreateTempSubdirectory("shapes-pack-smoke-").FullName;
        try
        {
            var vaeTrainer = new VaeTrainer(new VaeTrainOptions(BatchSize: 4, ScaleProbeImages: 8, EvalSamplesPerPrompt: 1, EvalPrompts: 2));
            var vae = vaeTrainer.Train(Context(root, "vae", steps: 2));
            Assert.True(double.IsFinite(vae.Training!.Metrics!["reconstruction_mse"]));
            Assert.Equal(2, vae.Training.Steps);
            string vaeFolder = Path.Combine(root, "pack", VaeTrainer.Folder);
            using (var loaded = AutoencoderKL.FromDiffusersFolder(vaeFolder))
                AssertSame(loaded, Path.Combine(root, "work", "vae", "vae.safetensors"));

            var options = new DiffusionTrainOptions(DatasetSize: 16, BatchSize: 4, EvalK: 1, EvalSteps: 2, EvalPrompts: 2);
            var first = new DiffusionTrainer(options).Train(Context(root, "diffusion", steps: 2));
            var resumed = new DiffusionTrainer(options).Train(Context(root, "diffusion", steps: 1, resume: true));
            Assert.Equal(2, first.Training!.Steps);
            Assert.Equal(3, resumed.Training!.Steps);
            Assert.True(double.IsFinite(resumed.Training.Metrics!["loss"]));
            Assert.InRange(resumed.Training.Metrics["accuracy_overall"], 0, 1);

            string diffusers = Path.Combine(root, "pack", DiffusionTrainer.Folder);
            foreach (var file in new[] { "model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json" })
                Assert.True(File.Exists(Path.Combine(diffusers, file)), file);
            using (var unet = UNet2DConditionModel.FromDiffusersFolder(Path.Combine(diffusers, "unet")))
                AssertSame(unet, Path.Combine(root, "work", "diffusion", "ema_unet.safetensors"));
            using (var text = ClipTextModel.FromPretrained(Path.Combine(diffusers, "text_encoder")))
                AssertSame(text, Path.Combine(root, "work", "diffusion", "ema_text_encoder.safetensors"));

            var status = PackLocator.Check(Path.Combine(root, "pack"), verifyHashes: true);
            Assert.True(status.Ready, string.Join("; ", status.Problems));
            Assert.Equal(["diffusion", "vae"], status.Manifest!.Components!.Keys.Order());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
