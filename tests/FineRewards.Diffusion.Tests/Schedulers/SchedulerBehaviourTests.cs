using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Schedulers;

public class SchedulerBehaviourTests
{
    static readonly SchedulerConfig Sd = SchedulerConfig.StableDiffusion;

    /// <summary>
    /// Runs a full sampling loop with an oracle model that knows the clean image x0: at each step it
    /// reads the noise implied by the current sample and returns it as ε or as v = √ᾱ·ε - √(1-ᾱ)·x0.
    /// Every scheduler must then land on x0.
    /// </summary>
    static Tensor SampleWithOracle(IScheduler scheduler, Tensor x0, Tensor noise, string oracleOutput, Generator? g = null)
    {
        scheduler.SetTimesteps(10);
        var sample = noise * scheduler.InitNoiseSigma;
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            double t = scheduler.Timesteps[i];
            // ᾱ of the VP model input: Euler's input is x/√(σ²+1) with σ at a fractional timestep.
            float alphaBar = scheduler switch
            {
                EulerDiscreteScheduler e => 1f / (1f + e.Sigmas[i] * e.Sigmas[i]),
                EulerAncestralDiscreteScheduler ea => 1f / (1f + ea.Sigmas[i] * ea.Sigmas[i]),
                _ => scheduler.AlphasCumprod[(int)t],
            };
            using var input = scheduler.ScaleModelInput(sample, t);     // √ᾱ·x0 + √(1-ᾱ)·ε
            float a = MathF.Sqrt(alphaBar), s = MathF.Sqrt(1f - alphaBar);
            using var eps = (input - a * x0) / s;
            using var output = oracleOutput == "v" ? a * eps - s * x0 : eps.alias();
            var next = scheduler.Step(output, t, sample, g);
            sample.Dispose();
            sample = next;
        }
        return sample;
    }

    static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    public static TheoryData<string, string> SchedulersAndPredictions()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in SchedulerFactory.Names)
            foreach (var prediction in new[] { "epsilon", "v_prediction" })
                data.Add(name, prediction);
        return data;
    }

    [Theory]
    [MemberData(nameof(SchedulersAndPredictions))]
    public void Exact_predictions_recover_x0_for_epsilon_and_v_prediction(string name, string prediction)
    {
        // set_alpha_to_one: DDIM's step past t=1 then goes all the way to ᾱ = 1 (no noise left).
        var config = Sd with { PredictionType = prediction, SetAlphaToOne = true };
        using var gen = manual_seed(7);
        using var x0 = rand(1, 4, 8, 8) * 2 - 1;
        using var noise = randn(1, 4, 8, 8);
        using var g = new Generator(123);
        using var result = SampleWithOracle(SchedulerFactory.Create(name, config), x0, noise,
            prediction == "v_prediction" ? "v" : "eps", g);
        Assert.True(MaxDiff(result, x0) < 2e-4, $"{name}/{prediction}: max |x - x0| = {MaxDiff(result, x0):g3}");
    }

    public static TheoryData<string, string> DeterministicAndPredictions()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in new[] { "ddim", "euler", "dpmpp_2m" })
            foreach (var prediction in new[] { "epsilon", "v_prediction" })
                data.Add(name, prediction);
        return data;
    }

    [Theory]
    [MemberData(nameof(DeterministicAndPredictions))]
    public void One_step_with_the_exact_prediction_lands_on_x0_noised_to_the_next_level(string name, string prediction)
    {
        var scheduler = SchedulerFactory.Create(name, Sd with { PredictionType = prediction });
        scheduler.SetTimesteps(20);
        const int i = 3;   // a middle step; DPM's first step is first order (no history yet)
        double t = scheduler.Timesteps[i];
        // (signal, noise) coefficients of the scheduler's own sample at step k, and the model input's ᾱ.
        (float signal, float noise) At(int k) => scheduler switch
        {
            DdimScheduler d => k < d.Timesteps.Count
                ? (MathF.Sqrt(d.AlphasCumprod[(int)d.Timesteps[k]]), MathF.Sqrt(1 - d.AlphasCumprod[(int)d.Timesteps[k]]))
                : (MathF.Sqrt(d.FinalAlphaCumprod), MathF.Sqrt(1 - d.FinalAlphaCumprod)),
            EulerDiscreteScheduler e => (1f, e.Sigmas[k]),                               // x0 + σ·ε
            DpmSolverMultistepScheduler p => (1f / MathF.Sqrt(1 + p.Sigmas[k] * p.Sigmas[k]),
                p.Sigmas[k] / MathF.Sqrt(1 + p.Sigmas[k] * p.Sigmas[k])),                 // α·x0 + σ_vp·ε
            _ => throw new ArgumentException(name),
        };
        using var _ = manual_seed(11);
        using var x0 = rand(1, 4, 4, 4) * 2 - 1;
        using var eps = randn(1, 4, 4, 4);
        var (c0, c1) = At(i);
        using var sample = c0 * x0 + c1 * eps;
        float alphaBar = c0 * c0 / (c0 * c0 + c1 * c1);   // ᾱ of the VP model input
        float a = MathF.Sqrt(alphaBar), s = MathF.Sqrt(1 - alphaBar);
        using var output = prediction == "v_prediction" ? a * eps - s * x0 : eps.alias();

        using var next = scheduler.Step(output, t, sample);
        var (n0, n1) = At(i + 1);
        using var expected = n0 * x0 + n1 * eps;
        Assert.True(MaxDiff(next, expected) < 1e-4, $"{name}/{prediction}: off by {MaxDiff(next, expected):g3}");

        // The same output read with the other prediction type misses: the type really changes the maths.
        var other = SchedulerFactory.Create(name, Sd with { PredictionType = prediction == "epsilon" ? "v_prediction" : "epsilon" });
        other.SetTimesteps(20);
        using var wrong = other.Step(output, t, sample);
        Assert.True(MaxDiff(wrong, expected) > 0.05, $"{name}: reading {prediction} output the other way still matched");
    }

    [Fact]
    public void Ddim_v_prediction_step_lands_on_the_forward_noised_x0_at_the_previous_timestep()
    {
        var ddim = new DdimScheduler(Sd with { PredictionType = "v_prediction" });
        ddim.SetTimesteps(20);
        using var _ = manual_seed(3);
        using var x0 = randn(1, 4, 4, 4);
        using var eps = randn(1, 4, 4, 4);
        int t = (int)ddim.Timesteps[5], prev = (int)ddim.Timesteps[6];
        float a = ddim.AlphasCumprod[t], ap = ddim.AlphasCumprod[prev];
        using var sample = MathF.Sqrt(a) * x0 + MathF.Sqrt(1 - a) * eps;
        using var v = MathF.Sqrt(a) * eps - MathF.Sqrt(1 - a) * x0;
        using var next = ddim.Step(v, t, sample);
        using var expected = MathF.Sqrt(ap) * x0 + MathF.Sqrt(1 - ap) * eps;
        Assert.True(MaxDiff(next, expected) < 1e-5);
    }

    static Tensor RunFakeModel(IScheduler scheduler, Generator? g)
    {
        scheduler.SetTimesteps(20);
        using var _ = manual_seed(4242);
        var latents = randn(1, 4, 4, 4) * scheduler.InitNoiseSigma;
        foreach (var t in scheduler.Timesteps)
        {
            using var output = 0.1f * latents + 0.05 * (t / 1000.0);
            var next = scheduler.Step(output, t, latents, g);
            latents.Dispose();
            latents = next;
        }
        return latents;
    }

    [Fact]
    public void Euler_ancestral_is_reproducible_with_a_seeded_generator_and_differs_from_euler()
    {
        using var g1 = new Generator(2024);
        using var g2 = new Generator(2024);
        using var g3 = new Generator(2025);
        using var a = RunFakeModel(new EulerAncestralDiscreteScheduler(Sd), g1);
        using var b = RunFakeModel(new EulerAncestralDiscreteScheduler(Sd), g2);
        using var c = RunFakeModel(new EulerAncestralDiscreteScheduler(Sd), g3);
        using var euler = RunFakeModel(new EulerDiscreteScheduler(Sd), null);

        Assert.True(a.equal(b).all().item<bool>(), "same seed, different result");
        Assert.True(MaxDiff(a, c) > 1e-3, "a different seed gave the same result");
        Assert.True(MaxDiff(a, euler) > 1e-3, "ancestral noise had no effect");
        Assert.True(a.isfinite().all().item<bool>());
    }

    [Fact]
    public void Euler_ancestral_adds_noise_of_std_sigma_up()
    {
        // A model that predicts x0 = 0 (ε = x/σ) makes the deterministic part x·σ_down/σ; the rest is σ_up·z.
        var ea = new EulerAncestralDiscreteScheduler(Sd);
        ea.SetTimesteps(20);
        double t = ea.Timesteps[0];
        float sigma = ea.Sigmas[0], sigmaTo = ea.Sigmas[1];
        using var sample = zeros(1, 4, 64, 64);
        using var g = new Generator(1);
        using var next = ea.Step(zeros(1, 4, 64, 64), t, sample, g);
        double std = next.std().item<float>();
        double sigmaUp = Math.Sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        Assert.InRange(std, sigmaUp * 0.97, sigmaUp * 1.03);
    }

    [Fact]
    public void Other_spacings_follow_the_diffusers_formulas()
    {
        var ddim = new DdimScheduler(Sd with { TimestepSpacing = "trailing" });
        ddim.SetTimesteps(20);   // round(arange(1000, 0, -50)) - 1
        Assert.Equal(Enumerable.Range(0, 20).Select(k => 999.0 - 50 * k), ddim.Timesteps);

        var euler = new EulerDiscreteScheduler(Sd with { TimestepSpacing = "leading" });
        euler.SetTimesteps(20);  // k·50 + 1, and the noise std is √(σ_max²+1) for leading spacing
        Assert.Equal(Enumerable.Range(0, 20).Select(k => 951.0 - 50 * k), euler.Timesteps);
        Assert.Equal(Math.Sqrt(euler.Sigmas[0] * euler.Sigmas[0] + 1.0), euler.InitNoiseSigma, 1e-5);

        var dpm = new DpmSolverMultistepScheduler(Sd with { TimestepSpacing = "leading" });
        dpm.SetTimesteps(20);    // (20..1)·(1000 div 21 = 47) + 1
        Assert.Equal(Enumerable.Range(0, 20).Select(k => 47.0 * (20 - k) + 1), dpm.Timesteps);
    }

    [Fact]
    public void Factory_knows_the_four_names_and_rejects_others()
    {
        Assert.IsType<DdimScheduler>(SchedulerFactory.Create("ddim"));
        Assert.IsType<EulerDiscreteScheduler>(SchedulerFactory.Create("euler"));
        Assert.IsType<EulerAncestralDiscreteScheduler>(SchedulerFactory.Create("euler_a"));
        Assert.IsType<DpmSolverMultistepScheduler>(SchedulerFactory.Create("dpmpp_2m"));
        var e = Assert.Throws<InputException>(() => SchedulerFactory.Create("pndm"));
        Assert.Equal("scheduler", e.Field);
    }

    [Fact]
    public void Unsupported_config_options_are_refused_with_their_field()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}""");
            var e = Assert.Throws<InputException>(() => SchedulerConfig.FromJsonFile(path));
            Assert.Contains("use_karras_sigmas", e.Field);

            File.WriteAllText(path, """{"prediction_type": "sample"}""");
            e = Assert.Throws<InputException>(() => SchedulerConfig.FromJsonFile(path));
            Assert.Contains("prediction_type", e.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Stepping_a_timestep_outside_the_schedule_is_an_error()
    {
        var euler = new EulerDiscreteScheduler(Sd);
        euler.SetTimesteps(20);
        using var x = zeros(1, 4, 2, 2);
        Assert.Throws<ArgumentException>(() => euler.Step(x, 500.5, x));
    }
}
