using FineRewards.Contracts;
using FineRewards.Core.Training;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace FineRewards.Server.Tests;

/// <summary>What a request leaves out (zero or empty) is its pack's choice, not one size for every model.</summary>
public sealed class SubmissionDefaultsTests
{
    static ModelCatalog Catalog(GenerationSettings settings)
    {
        var models = new HostModels([new TestPack("big", new SolidColourGenerator(), generation: settings)], [], DeviceInfo.Cpu(), "big");
        return new ModelCatalog(models, NullLogger<ModelCatalog>.Instance);
    }

    static GenerationSubmission Submission(int width = 0, int height = 0, int steps = 0, double guidance = 0, string sampler = "") =>
        new(Guid.NewGuid().ToString(), "tests", "a red square", "", 2, SeedPolicy.Fixed, 1, sampler, steps, guidance, width, height, "",
            [], [], null, "", new Dictionary<string, double>(), PreviewPolicy.None);

    [Fact]
    public void Unset_settings_take_the_packs_defaults()
    {
        var catalog = Catalog(new GenerationSettings(Sampler: "euler", Steps: 30, Guidance: 5.0, Width: 512, Height: 384));
        var (_, _, spec) = SubmissionValidator.Validate(Submission(), new HostLimits(), catalog);
        Assert.Equal(("euler", 30, 5.0, 512, 384), (spec.Sampler, spec.Steps, spec.Guidance, spec.Width, spec.Height));
    }

    [Fact]
    public void Given_settings_win_over_the_packs_defaults()
    {
        var catalog = Catalog(new GenerationSettings(Sampler: "euler", Steps: 30, Guidance: 5.0, Width: 512, Height: 384));
        var (_, _, spec) = SubmissionValidator.Validate(Submission(64, 32, 10, 7.5, "ddim"), new HostLimits(), catalog);
        Assert.Equal(("ddim", 10, 7.5, 64, 32), (spec.Sampler, spec.Steps, spec.Guidance, spec.Width, spec.Height));
    }

    [Fact]
    public void A_pack_default_over_the_hosts_limit_is_refused_naming_the_field()
    {
        var catalog = Catalog(new GenerationSettings(Width: 2048, Height: 64));
        var e = Assert.Throws<FineRewards.Contracts.InputException>(() => SubmissionValidator.Validate(Submission(), new HostLimits(), catalog));
        Assert.Equal("width", e.Field);
    }
}
