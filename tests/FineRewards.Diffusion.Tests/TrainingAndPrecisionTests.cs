using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.UNet;
using TorchSharp;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

/// <summary>What fine-tuning and half-precision inference rely on beyond the float32 parity tests.</summary>
public class TrainingAndPrecisionTests
{
    [Fact]
    public void Gradients_reach_the_attention_projections_through_the_dispose_scopes()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("unet_tiny.safetensors");
        using var model = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json")));
        StateDictLoader.Load(model, recording.Parameters, recording.Path);
        foreach (var p in model.parameters()) p.requires_grad = false;
        var toQ = model.named_parameters().Single(p => p.name == "up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q.weight").parameter;
        var toK = model.named_parameters().Single(p => p.name == "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight").parameter;
        toQ.requires_grad = true;
        toK.requires_grad = true;

        var prediction = model.forward(recording["input.sample"], recording["input.timestep"], recording["input.encoder_hidden_states"]);
        var loss = nn.functional.mse_loss(prediction, zeros_like(prediction));
        loss.backward();

        foreach (var p in new[] { toQ, toK })
        {
            var grad = p.grad;
            Assert.NotNull(grad);
            Assert.True(grad!.isfinite().all().item<bool>());
            Assert.True(grad.abs().sum().item<float>() > 0f, "the loss must depend on the projection");
        }
    }

    [Fact]
    public void Bfloat16_weights_with_upcast_attention_stay_close_to_float32()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("unet_tiny_sd2.safetensors");
        var config = UNet2DConditionConfig.FromFile(PathOf("unet_tiny_sd2.json")) with { UpcastAttention = true };
        using var model = new UNet2DConditionModel(config);
        StateDictLoader.Load(model, recording.Parameters, recording.Path);
        model.eval();
        model.to(ScalarType.BFloat16);
        using var _ = no_grad();

        var output = model.forward(recording["input.sample"].to(ScalarType.BFloat16), recording["input.timestep"],
            recording["input.encoder_hidden_states"].to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, output.dtype);
        // bfloat16 keeps ~3 significant digits; the float32 reference is O(1).
        double diff = MaxAbsDiff(output, recording["output.sample"], "bfloat16 output");
        Assert.True(diff < 0.15, $"bfloat16 output is {diff:E2} away from float32");
    }
}
