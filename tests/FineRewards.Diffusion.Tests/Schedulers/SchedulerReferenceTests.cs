using System.Text.Json;
using System.Text.Json.Nodes;
using FineRewards.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Schedulers;

/// <summary>Parity with diffusers 0.27.2 (Fixtures/diffusers/schedulers.json, see its README).</summary>
public class SchedulerReferenceTests
{
    static readonly JsonNode Root = JsonNode.Parse(File.ReadAllText(Fixture.Path("diffusers", "schedulers.json")))!;

    static JsonNode Entry(string name) => Root["schedulers"]![name]!;

    static IEnumerable<JsonNode> Leaves(JsonNode node) =>
        node is JsonArray a ? a.SelectMany(x => Leaves(x!)) : [node];

    static float[] Floats(JsonNode node) => Leaves(node).Select(v => v.GetValue<float>()).ToArray();
    // Values are float32 written as the shortest round-trip decimal: parse as float32.
    static double[] Doubles(JsonNode node) => Leaves(node).Select(v => (double)v.GetValue<float>()).ToArray();

    /// <summary>The resolved config diffusers reported, parsed by our own reader.</summary>
    static SchedulerConfig ConfigOf(string name)
    {
        var path = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, Entry(name)["config"]!.ToJsonString());
            return SchedulerConfig.FromJsonFile(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    static IScheduler Make(string name) => name switch
    {
        "DDIMScheduler" => new DdimScheduler(ConfigOf(name)),
        "EulerDiscreteScheduler" => new EulerDiscreteScheduler(ConfigOf(name)),
        "DPMSolverMultistepScheduler" => new DpmSolverMultistepScheduler(ConfigOf(name)),
        _ => throw new ArgumentException(name),
    };

    static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= atol + rtol * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|diff| {diff:g3})");
        }
    }

    public static TheoryData<string> Names => new() { "DDIMScheduler", "EulerDiscreteScheduler", "DPMSolverMultistepScheduler" };

    [Fact]
    public void Alphas_cumprod_match_diffusers()
    {
        var expected = Floats(Root["alphas_cumprod"]!);
        Assert.Equal(1000, expected.Length);
        var actual = NoiseSchedule.AlphasCumprod(SchedulerConfig.StableDiffusion);
        AssertClose(expected, actual, 1e-6, 0, "alphas_cumprod");
    }

    [Fact]
    public void Config_files_parse_with_the_default_spacing_of_each_scheduler()
    {
        Assert.Equal("leading", ConfigOf("DDIMScheduler").TimestepSpacing);
        var dpm = ConfigOf("DPMSolverMultistepScheduler");   // holds "-Infinity" and unrelated keys
        Assert.Equal("linspace", dpm.TimestepSpacing);
        Assert.Equal(SchedulerConfig.StableDiffusion with { TimestepSpacing = "linspace", ClipSample = false }, dpm);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Timesteps_sigmas_and_init_noise_sigma_match_for_20_and_50_steps(string name)
    {
        foreach (int n in new[] { 20, 50 })
        {
            var reference = Entry(name)[$"set_timesteps_{n}"]!;
            var scheduler = Make(name);
            scheduler.SetTimesteps(n);
            // Timesteps exactly (Euler's are float32 values, compared as such).
            Assert.Equal(Doubles(reference["timesteps"]!), scheduler.Timesteps.Select(t => (double)(float)t).ToArray());
            Assert.Equal(reference["init_noise_sigma"]!.GetValue<float>(), (float)scheduler.InitNoiseSigma, 5e-6f);
            var sigmas = scheduler switch
            {
                EulerDiscreteScheduler e => e.Sigmas,
                DpmSolverMultistepScheduler d => d.Sigmas,
                _ => null,
            };
            if (sigmas is not null) AssertClose(Floats(reference["sigmas"]!), sigmas, 1e-6, 0, $"{name} sigmas({n})");
        }
    }

    [Fact]
    public void Ddim_final_alpha_cumprod_is_alpha_bar_zero_without_set_alpha_to_one()
    {
        var ddim = (DdimScheduler)Make("DDIMScheduler");
        Assert.Equal(Entry("DDIMScheduler")["final_alpha_cumprod"]!.GetValue<float>(), ddim.FinalAlphaCumprod);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Twenty_step_trajectory_with_the_fake_model_matches(string name)
    {
        var trajectory = Entry(name)["trajectory"]!;
        var scheduler = Make(name);
        scheduler.SetTimesteps(20);
        using var xInit = tensor(Floats(Root["trajectory"]!["x_init"]!), new long[] { 1, 4, 4, 4 });
        var latents = xInit * scheduler.InitNoiseSigma;
        AssertClose(Floats(trajectory["latent_start"]!), latents.data<float>().ToArray(), 1e-6, 0, "latent_start");
        Assert.Equal(Doubles(trajectory["timesteps"]!), scheduler.Timesteps.Select(t => (double)(float)t).ToArray());

        var expectedLatents = (JsonArray)trajectory["latents"]!;
        var expectedScaled = trajectory["scaled_model_input"] as JsonArray;
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            double t = scheduler.Timesteps[i];
            using var scaled = scheduler.ScaleModelInput(latents, t);
            var expectedInput = expectedScaled is null ? latents.data<float>().ToArray() : Floats(expectedScaled[i]!);
            AssertClose(expectedInput, scaled.data<float>().ToArray(), 1e-5, 1e-6, $"{name} scaled_model_input[{i}]");

            // The fixture's fake model sees the unscaled latent: 0.1·x + 0.05·t/1000.
            using var modelOutput = 0.1f * latents + 0.05 * (t / 1000.0);
            var next = scheduler.Step(modelOutput, t, latents);
            latents.Dispose();
            latents = next;
            AssertClose(Floats(expectedLatents[i]!), latents.data<float>().ToArray(), 1e-5, 1e-6, $"{name} latents[{i}]");
        }
        latents.Dispose();
    }
}
