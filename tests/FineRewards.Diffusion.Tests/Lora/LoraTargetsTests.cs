using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.Lora;
using FineRewards.Diffusion.Tests.Pipelines;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Lora;

/// <summary>Which layers each <see cref="LoraTargets"/> set reaches, and that conv adapters train.</summary>
public class LoraTargetsTests
{
    static List<string> LayersOf(nn.Module model, Func<nn.Module, bool> kind) =>
        model.named_modules().Where(m => kind(m.module)).Select(m => m.name).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void Unet_targets_are_every_linear_and_conv_of_the_blocks_but_not_conv_in_conv_out_or_the_time_embedding()
    {
        using var unet = UNetLoraTests.TinyUnet();
        using var adapter = LoraAdapter.Create(unet, new LoraConfig(Targets: LoraTargets.UNet));
        var all = LayersOf(unet, m => m is Linear or Conv2d);
        var expected = all.Where(n => n.StartsWith("down_blocks.") || n.StartsWith("mid_block.") || n.StartsWith("up_blocks.")).ToList();
        Assert.Equal(expected, adapter.Parts.Keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(adapter.Parts.Keys, k => k is "conv_in" or "conv_out" || k.StartsWith("time_embedding."));
        Assert.Equal(new[] { "conv_in", "conv_out", "time_embedding.linear_1", "time_embedding.linear_2" }, all.Except(expected));
        // The fixture's blocks hold resnet convs, shortcuts, time projections, samplers and transformer projections.
        foreach (var suffix in new[] { ".resnets.0.conv1", ".resnets.0.conv2", ".resnets.0.time_emb_proj", ".conv_shortcut", ".downsamplers.0.conv",
                     ".upsamplers.0.conv", ".proj_in", ".attn2.to_k", ".ff.net.2" })
            Assert.Contains(adapter.Parts.Keys, k => k.EndsWith(suffix));
        Assert.Contains(adapter.Parts.Values, p => p.Down is Conv2d);
        // Convolutions get LoCon's pair: A with the layer's kernel, B 1x1.
        var conv1 = adapter.Parts.First(p => p.Key.EndsWith(".resnets.0.conv1")).Value;
        Assert.Equal(new long[] { 4, 3, 3 }, new[] { conv1.DownWeight.shape[0], conv1.DownWeight.shape[2], conv1.DownWeight.shape[3] });
        Assert.Equal(new long[] { 1, 1 }, conv1.UpWeight.shape[2..]);

        // The narrower sets are unchanged: attention projections only, plus feed-forward.
        using var attention = LoraAdapter.Create(unet, new LoraConfig());
        Assert.All(attention.Parts.Keys, k => Assert.Matches(@"\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$", k));
        using var ff = LoraAdapter.Create(unet, new LoraConfig(Targets: LoraTargets.AttentionFeedForward));
        // Per transformer block: attn1 and attn2 (4 projections each) and the two feed-forward layers.
        Assert.Equal(attention.Parts.Count + attention.Parts.Count / 4, ff.Parts.Count);
    }

    [Fact]
    public void Unet_plus_text_targets_add_every_text_encoder_linear_and_need_the_encoder()
    {
        using var folder = new TinyModelFolder();
        using var pipeline = folder.Load();
        using var unetOnly = LoraAdapter.Create(pipeline.Unet, new LoraConfig(Targets: LoraTargets.UNet));
        using var adapter = LoraAdapter.Create(pipeline.Unet, new LoraConfig(Targets: LoraTargets.UNetText), textEncoder: pipeline.TextEncoder);
        var text = adapter.Parts.Keys.Where(k => k.StartsWith(LoraAdapter.TextEncoderKey)).Select(k => k[LoraAdapter.TextEncoderKey.Length..]).Order(StringComparer.Ordinal);
        Assert.Equal(LayersOf(pipeline.TextEncoder, m => m is Linear), text);
        Assert.Equal(unetOnly.Parts.Keys.Order(StringComparer.Ordinal), adapter.Parts.Keys.Where(k => !k.StartsWith(LoraAdapter.TextEncoderKey)).Order(StringComparer.Ordinal));
        // A text encoder passed to a UNet-only set is not adapted.
        using var ignored = LoraAdapter.Create(pipeline.Unet, new LoraConfig(Targets: LoraTargets.UNet), textEncoder: pipeline.TextEncoder);
        Assert.Equal(unetOnly.Parts.Count, ignored.Parts.Count);

        var e = Assert.Throws<InputException>(() => LoraAdapter.Create(pipeline.Unet, new LoraConfig(Targets: LoraTargets.UNetText)));
        Assert.Equal("lora.targets", e.Field);
        e = Assert.Throws<InputException>(() => LoraAdapter.Create(pipeline.Unet, new LoraConfig(Targets: "everything")));
        Assert.Equal("lora.targets", e.Field);
        Assert.Contains("attention, attention+ff, unet, unet+text", e.Message);
    }

    [Fact]
    public void A_conv_adapter_passes_gradients_to_both_its_weights()
    {
        using var unet = UNetLoraTests.TinyUnet();
        using var adapter = LoraAdapter.Create(unet, new LoraConfig(Targets: LoraTargets.UNet));
        foreach (var p in unet.parameters()) p.requires_grad = false;
        var (x, t, ctx) = UNetLoraTests.Inputs();
        var g = new Generator(6);
        var conv = adapter.Parts.First(p => p.Key.EndsWith(".resnets.0.conv1") && p.Value.Down is Conv2d).Value;

        // Fresh: B = 0, so only B gets a gradient on the first step (as for Linear LoRA).
        using (adapter.Attach(unet)) unet.forward(x, t, ctx).square().mean().backward();
        Assert.True(conv.UpWeight.grad!.abs().sum().item<float>() > 0, "B of a conv adapter got no gradient");
        Assert.Equal(0f, conv.DownWeight.grad!.abs().sum().item<float>());

        // Once B is nonzero, A's gradient flows through the 1x1 B into the kernel-sized A.
        adapter.zero_grad();
        using (no_grad()) foreach (var part in adapter.Parts.Values) part.UpWeight.copy_(randn(part.UpWeight.shape, generator: g).mul(0.1));
        using (adapter.Attach(unet)) unet.forward(x, t, ctx).square().mean().backward();
        Assert.True(conv.DownWeight.grad!.abs().sum().item<float>() > 0, "A of a conv adapter got no gradient");
        Assert.True(conv.UpWeight.grad!.abs().sum().item<float>() > 0);
        Assert.All(unet.parameters(), p => Assert.Null(p.grad));   // the base stays frozen
    }
}
