using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.Vae;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

public class AutoencoderKLTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Tolerance = 3e-5;

    [Fact]
    public void Encode_and_decode_match_diffusers()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("vae_tiny.safetensors");
        var config = AutoencoderKLConfig.FromFile(PathOf("vae_tiny.json"));
        using var model = new AutoencoderKL(config);
        StateDictLoader.Load(model, recording.Parameters, recording.Path);
        model.eval();
        using var _ = no_grad();

        var (mean, logvar) = model.Encode(recording["input.image"]);
        var decoded = model.Decode(recording["input.latent"]);
        foreach (var (what, actual) in new[] { ("latent_mean", mean), ("latent_logvar", logvar), ("decoded", decoded) })
        {
            double diff = MaxAbsDiff(actual, recording[$"output.{what}"], what);
            output.WriteLine($"vae_tiny {what}: max |diff| {diff:E2}");
            Assert.True(diff <= Tolerance, $"{what}: max |diff| {diff:E2} > {Tolerance:E1}");
        }

        Assert.Equal(0.18215, model.ScalingFactor);
        Assert.Equal(2, config.DownsampleFactor);
    }

    [Fact]
    public void Log_variance_is_clamped_like_diffusers()
    {
        using var scope = NewDisposeScope();
        using var recording = new Recording("vae_tiny.safetensors");
        using var model = new AutoencoderKL(AutoencoderKLConfig.FromFile(PathOf("vae_tiny.json")));
        StateDictLoader.Load(model, recording.Parameters, recording.Path);
        model.eval();
        using var _ = no_grad();
        // Push the log-variance channels of quant_conv far out on both sides.
        var bias = model.state_dict()["quant_conv.bias"];   // [8]: 4 mean, then 4 log-variance channels
        bias[4].fill_(1e4f);
        bias[5].fill_(-1e4f);
        var (mean, logvar) = model.Encode(recording["input.image"]);
        AssertClose(mean, recording["output.latent_mean"], 3e-5, "mean is untouched");
        Assert.True(logvar[0, 0].eq(20f).all().item<bool>(), "upper clamp");
        Assert.True(logvar[0, 1].eq(-30f).all().item<bool>(), "lower clamp");
        AssertClose(logvar[0, 2], recording["output.latent_logvar"][0, 2], 3e-5, "unclamped channels");
    }

    [Fact]
    public void Sample_draws_mean_plus_sigma_noise_reproducibly()
    {
        using var scope = NewDisposeScope();
        var mean = full(new long[] { 1, 4, 64, 64 }, 3f);
        var logvar = full(new long[] { 1, 4, 64, 64 }, (float)Math.Log(4.0));   // sigma 2
        var a = AutoencoderKL.Sample(mean, logvar, new TorchSharp.torch.Generator(7));
        var b = AutoencoderKL.Sample(mean, logvar, new TorchSharp.torch.Generator(7));
        Assert.True(a.eq(b).all().item<bool>(), "same generator seed, same draw");
        Assert.InRange(a.mean().item<float>(), 2.9f, 3.1f);
        Assert.InRange(a.std().item<float>(), 1.9f, 2.1f);
    }
}
