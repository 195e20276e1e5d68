using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.Inspect;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.TextEncoder;

namespace FineRewards.Diffusion.Tests.Checkpoints;

/// <summary>
/// The full SD 1.5 and SD 2.1 key tables (diffusers' own conversion): the architecture inferred from
/// their shapes is the published one, and built on the meta device every key lands on exactly the
/// diffusers tensor(s) the table names, with its shape, and every module tensor is filled.
/// </summary>
[Collection(MetaDeviceCollection.Name)]
public sealed class SingleFileKeyTableTests
{
    [Theory]
    [InlineData("ldm_sd15_keys.tsv", SdFamily.Sd1, 1_066_235_307L, 123_060_480L)]
    [InlineData("ldm_sd21_keys.tsv", SdFamily.Sd2, 1_289_952_427L, 340_387_840L)]
    public void Every_key_of_the_table_maps_to_exactly_its_module_tensor(string table, SdFamily family, long total, long textEncoder)
    {
        var (entries, expected) = SingleFileFixture.KeyTable(table);
        var shapes = entries.ToDictionary(e => e.Name, e => e.Shape);
        var arch = SingleFileArchitecture.Infer(shapes, table);
        Assert.Equal(family, arch.Family);
        var published = family == SdFamily.Sd1 ? UNet2DConditionConfig.Sd15 : UNet2DConditionConfig.Sd21;
        Assert.Equal(published.BlockOutChannels, arch.Unet.BlockOutChannels);
        Assert.Equal(published.CrossAttentionDim, arch.Unet.CrossAttentionDim);
        Assert.Equal(published.UseLinearProjection, arch.Unet.UseLinearProjection);
        Assert.Equal(published.HeadsOf(0), arch.Unet.HeadsOf(0));
        Assert.Equal(published.HeadsOf(3), arch.Unet.HeadsOf(3));
        var text = family == SdFamily.Sd1 ? ClipTextConfig.VitL14 : ClipTextConfig.OpenClipVitH;
        Assert.Equal((text.HiddenSize, text.NumHiddenLayers, text.NumAttentionHeads, text.HiddenAct, text.IntermediateSize),
            (arch.TextEncoder.HiddenSize, arch.TextEncoder.NumHiddenLayers, arch.TextEncoder.NumAttentionHeads, arch.TextEncoder.HiddenAct, arch.TextEncoder.IntermediateSize));

        using var models = ArchitectureInspector.OnMeta(() => SingleFileCheckpoint.Build(arch));
        var plan = SingleFileCheckpoint.Plan(entries, arch, models);
        Assert.True(plan.Complete, string.Join("\n", plan.AllProblems().Take(20)));
        Assert.Empty(plan.Ignored);
        Assert.Equal(entries.Count, plan.Tensors.Count);
        foreach (var planned in plan.Tensors)
        {
            string component = planned.Targets[0].Target.Component switch { SdComponent.Unet => "unet", SdComponent.Vae => "vae", _ => "text_encoder" };
            string mapped = component + ":" + string.Join('+', planned.Targets.Select(t => t.Target.Key));
            Assert.Equal(expected[planned.Entry.Name], mapped);
        }
        long parameters = new[] { models.Unet, models.Vae, (TorchSharp.torch.nn.Module)models.TextEncoder }
            .Sum(m => m.parameters().Sum(p => p.numel()));
        Assert.Equal(total, parameters);
        Assert.Equal(textEncoder, models.TextEncoder.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Buffers_ema_copies_and_the_unused_openclip_block_are_ignored_not_unknown()
    {
        var (entries, _) = SingleFileFixture.KeyTable("ldm_sd21_keys.tsv");
        var extra = new[]
        {
            "betas", "alphas_cumprod", "posterior_mean_coef2", "logvar", "model_ema.decay", "model_ema.num_updates",
            "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight", "cond_stage_model.model.text_projection",
            "cond_stage_model.model.logit_scale",
        };
        var all = entries.Concat(extra.Select(k => new FineRewards.Diffusion.IO.SafetensorsEntry(k, "F32", [1], 0, 0))).ToList();
        var arch = SingleFileArchitecture.Infer(all.ToDictionary(e => e.Name, e => e.Shape), "sd21+extras");
        Assert.Equal(23, arch.TextEncoder.NumHiddenLayers);   // the file's 24th block is OpenCLIP's last, which SD 2.x skips
        using var models = ArchitectureInspector.OnMeta(() => SingleFileCheckpoint.Build(arch));
        var plan = SingleFileCheckpoint.Plan(all, arch, models);
        Assert.True(plan.Complete, string.Join("\n", plan.AllProblems().Take(20)));
        Assert.Equal(extra.Order(), plan.Ignored.Order());
    }
}
