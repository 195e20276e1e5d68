using FineRewards.Diffusion.Schedulers;
using FineRewards.Diffusion.Training;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Training;

public class DiffusionObjectiveTests
{
    static readonly SchedulerConfig Epsilon = SchedulerConfig.StableDiffusion;
    static readonly SchedulerConfig VPrediction = SchedulerConfig.StableDiffusion with { PredictionType = "v_prediction" };

    [Fact]
    public void AddNoise_uses_alphas_cumprod_of_each_samples_timestep()
    {
        using var scope = NewDisposeScope();
        var objective = new DiffusionObjective(Epsilon);
        var ab = NoiseSchedule.AlphasCumprod(Epsilon);
        var x0 = ones(2, 1, 1, 1);
        var eps = full(2, 1, 1, 1, 2f);
        var noisy = objective.AddNoise(x0, eps, tensor(new long[] { 0, 999 })).data<float>().ToArray();
        Assert.Equal(MathF.Sqrt(ab[0]) + 2 * MathF.Sqrt(1 - ab[0]), noisy[0], 5);
        Assert.Equal(MathF.Sqrt(ab[999]) + 2 * MathF.Sqrt(1 - ab[999]), noisy[1], 5);
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void An_oracle_denoiser_has_zero_loss_and_a_zero_denoiser_does_not(string predictionType)
    {
        using var scope = NewDisposeScope();
        var config = Epsilon with { PredictionType = predictionType };
        var objective = new DiffusionObjective(config);
        var ab = tensor(NoiseSchedule.AlphasCumprod(config));
        var x0 = randn(4, 3, 5, 5, generator: new Generator(7));

        // Knowing x₀, the oracle recovers ε from x_t, then answers in the configured parameterisation.
        Tensor Oracle(Tensor xt, Tensor t, Tensor text)
        {
            var a = ab.index_select(0, t).view(-1, 1, 1, 1);
            var eps = (xt - a.sqrt() * x0) / (1 - a).sqrt();
            return predictionType == "epsilon" ? eps : a.sqrt() * eps - (1 - a).sqrt() * x0;
        }

        var text = zeros(4, 2, 8);
        Assert.True(objective.Loss(Oracle, x0, text, new Generator(1)).item<float>() < 1e-8);
        Assert.True(objective.Loss((xt, t, c) => zeros_like(xt), x0, text, new Generator(1)).item<float>() > 0.1);
    }

    [Fact]
    public void V_target_inverts_to_the_clean_latent()
    {
        using var scope = NewDisposeScope();
        var objective = new DiffusionObjective(VPrediction);
        var x0 = randn(3, 4, 2, 2, generator: new Generator(3));
        var eps = randn(3, 4, 2, 2, generator: new Generator(4));
        var t = tensor(new long[] { 10, 500, 990 });
        var xt = objective.AddNoise(x0, eps, t);
        var v = objective.Target(x0, eps, t);
        var a = tensor(NoiseSchedule.AlphasCumprod(VPrediction)).index_select(0, t).view(-1, 1, 1, 1);
        // x₀ = √ᾱ·x_t - √(1-ᾱ)·v, the identity the v-prediction samplers rely on.
        Assert.True(allclose(a.sqrt() * xt - (1 - a).sqrt() * v, x0, rtol: 1e-4, atol: 1e-5));
        Assert.Same(eps, new DiffusionObjective(Epsilon).Target(x0, eps, t));
    }

    [Fact]
    public void A_seeded_loss_repeats_exactly()
    {
        using var scope = NewDisposeScope();
        var objective = new DiffusionObjective(Epsilon);
        var x0 = randn(2, 4, 4, 4, generator: new Generator(5));
        var text = zeros(2, 3, 8);
        Func<Tensor, Tensor, Tensor, Tensor> denoiser = (xt, t, c) => xt * 0.5f;
        float first = objective.Loss(denoiser, x0, text, new Generator(11)).item<float>();
        float again = objective.Loss(denoiser, x0, text, new Generator(11)).item<float>();
        float other = objective.Loss(denoiser, x0, text, new Generator(12)).item<float>();
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void A_timestep_floor_draws_only_timesteps_at_or_above_it()
    {
        using var scope = NewDisposeScope();
        var objective = new DiffusionObjective(Epsilon);
        Assert.Equal(500, objective.TimestepAt(0.5));
        Assert.Equal(0, objective.TimestepAt(0));
        var t = objective.SampleTimesteps(4000, new Generator(3), low: 500);
        Assert.True(t.min().item<long>() >= 500);
        Assert.Equal(999, t.max().item<long>());

        // The loss sees the same floor: a denoiser that fails below t = 500 costs nothing above it.
        var x0 = randn(64, 1, 2, 2, generator: new Generator(9));
        var seen = new List<long>();
        objective.Loss((xt, ts, c) => { seen.AddRange(ts.data<long>().ToArray()); return zeros_like(xt); }, x0, zeros(64, 1, 4), new Generator(2), minTimestep: 500);
        Assert.All(seen, s => Assert.InRange(s, 500, 999));
        seen.Clear();
        objective.Loss((xt, ts, c) => { seen.AddRange(ts.data<long>().ToArray()); return zeros_like(xt); }, x0, zeros(64, 1, 4), new Generator(2));
        Assert.Contains(seen, s => s < 500);
    }

    [Fact]
    public void The_preference_loss_is_log_two_at_the_reference_and_falls_when_the_winner_is_denoised_better()
    {
        using var scope = NewDisposeScope();
        var objective = new DiffusionObjective(Epsilon);
        var ab = tensor(NoiseSchedule.AlphasCumprod(Epsilon));
        var winners = randn(3, 2, 4, 4, generator: new Generator(1));
        var losers = randn(3, 2, 4, 4, generator: new Generator(2));
        var text = zeros(3, 2, 8);
        Func<Tensor, Tensor, Tensor, Tensor> reference = (xt, t, c) => xt * 0.5f;
        // Knows the winners' x₀ (first half of the batch), so it recovers their ε exactly; the losers it answers as the reference.
        Tensor Better(Tensor xt, Tensor t, Tensor c)
        {
            var a = ab.index_select(0, t[..3]).view(-1, 1, 1, 1);
            var eps = (xt[..3] - a.sqrt() * winners) / (1 - a).sqrt();
            return cat([eps, reference(xt[3..], t[3..], c[3..])], 0);
        }
        float same = objective.PreferenceLoss(reference, reference, winners, losers, text, 100, new Generator(4)).item<float>();
        float better = objective.PreferenceLoss(Better, reference, winners, losers, text, 100, new Generator(4)).item<float>();
        float reversed = objective.PreferenceLoss(Better, reference, losers, winners, text, 100, new Generator(4)).item<float>();
        Assert.Equal(MathF.Log(2), same, 5);
        Assert.True(better < same, $"{better} >= log 2");
        Assert.True(reversed > same, $"{reversed} <= log 2");
    }
}
