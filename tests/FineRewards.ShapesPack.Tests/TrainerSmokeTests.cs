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
    public void Vae_decoder_then_diffusion_train_resume_export_and_load_back()
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

            // The decoder fine-tune must leave the encoder (the diffusion model's latent space) and the config bit for bit as they were.
            var vaeWeights = StateDictLoader.ReadSafetensors(Path.Combine(vaeFolder, "diffusion_pytorch_model.safetensors"));
            string vaeConfig = File.ReadAllText(Path.Combine(vaeFolder, "config.json"));
            var decoderOptions = new VaeDecoderTrainOptions(BatchSize: 2, LearningRate: 1e-2, WarmupSteps: 1, EvalSamplesPerPrompt: 1, EvalPrompts: 2);
            new VaeDecoderTrainer(decoderOptions).Train(Context(root, "vae-decoder", steps: 2));
            var decoder = new VaeDecoderTrainer(decoderOptions).Train(Context(root, "vae-decoder", steps: 1, resume: true));
            Assert.Equal(3, decoder.Training!.Steps);
            Assert.True(double.IsFinite(decoder.Training.Metrics!["loss"]));
            Assert.InRange(decoder.Training.Metrics["roundtrip_accuracy_overall"], 0, 1);
            Assert.InRange(decoder.Training.Metrics["before_roundtrip_accuracy_overall"], 0, 1);
            Assert.Equal(vaeConfig, File.ReadAllText(Path.Combine(vaeFolder, "config.json")));
            var tuned = StateDictLoader.ReadSafetensors(Path.Combine(vaeFolder, "diffusion_pytorch_model.safetensors"));
            Assert.Equal(vaeWeights.Keys.Order(), tuned.Keys.Order());
            foreach (var (name, before) in vaeWeights)
            {
                bool same = before.allclose(tuned[name], rtol: 0, atol: 0);
                if (name.StartsWith("encoder.") || name.StartsWith("quant_conv.")) Assert.True(same, $"{name} changed");
                if (name.StartsWith("decoder.conv_out.") || name.StartsWith("post_quant_conv.")) Assert.False(same, $"{name} was not trained");
            }
            using (var loaded = AutoencoderKL.FromDiffusersFolder(vaeFolder))
            {
                var checkpoint = StateDictLoader.ReadSafetensors(Path.Combine(root, "work", "vae-decoder", "decoder.safetensors"));
                var exported = loaded.state_dict();
                foreach (var (name, trained) in checkpoint)
                    Assert.True(trained.to_type(ScalarType.Float16).to_type(ScalarType.Float32).allclose(exported["decoder." + name], rtol: 0, atol: 0), $"decoder.{name} is not the checkpoint's");
            }

            var options = new DiffusionTrainOptions(DatasetSize: 16, BatchSize: 4, EvalK: 1, EvalSteps: 2, EvalPrompts: 2);
            var first = new DiffusionTrainer(options).Train(Context(root, "diffusion", steps: 2));
            var resumed = new DiffusionTrainer(options).Train(Context(root, "diffusion", steps: 1, resume: true));
            Assert.Equal(2, first.Training!.Steps);
            Assert.Equal(3, resumed.Training!.Steps);
            Assert.True(double.IsFinite(resumed.Training.Metrics!["loss"]));
            Assert.InRange(resumed.Training.Metrics["accuracy_overall"], 0, 1);
            var (_, reevaluated) = new DiffusionTrainer(options).Reevaluate(Path.Combine(root, "pack"), Path.Combine(root, "eval"), seed: 2);
            Assert.InRange(reevaluated.Training!.Metrics!["reencoded_accuracy_overall"], 0, 1);
            Assert.Equal(resumed.Training.Steps, reevaluated.Training.Steps);

            string diffusers = Path.Combine(root, "pack", DiffusionTrainer.Folder);
            foreach (var file in new[] { "model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json" })
                Assert.True(File.Exists(Path.Combine(diffusers, file)), file);
            using (var unet = UNet2DConditionModel.FromDiffusersFolder(Path.Combine(diffusers, "unet")))
                AssertSame(unet, Path.Combine(root, "work", "diffusion", "ema_unet.safetensors"));
            using (var text = ClipTextModel.FromPretrained(Path.Combine(diffusers, "text_encoder")))
                AssertSame(text, Path.Combine(root, "work", "diffusion", "ema_text_encoder.safetensors"));

            var status = PackLocator.Check(Path.Combine(root, "pack"), verifyHashes: true);
            Assert.True(status.Ready, string.Join("; ", status.Problems));
            Assert.Equal(["diffusion", "vae", "vae-decoder"], status.Manifest!.Components!.Keys.Order());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
