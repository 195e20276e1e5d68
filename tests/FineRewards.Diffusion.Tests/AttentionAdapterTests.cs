using FineRewards.Diffusion.Models.Layers;
using FineRewards.Diffusion.Models.UNet;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests;

/// <summary>The extension point a LoRA injector uses: find Attention modules by name and wrap their projections.</summary>
public class AttentionAdapterTests
{
    /// <summary>A minimal low-rank adapter: base(x) + up(down(x)).</summary>
    private sealed class LowRankWrapper : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> base_layer;
        private readonly Linear lora_A;
        private readonly Linear lora_B;

        public LowRankWrapper(nn.Module<Tensor, Tensor> baseLayer, long inFeatures, long outFeatures, float upInit) : base(nameof(LowRankWrapper))
        {
            base_layer = baseLayer;
            lora_A = nn.Linear(inFeatures, 2, hasBias: false);
            lora_B = nn.Linear(2, outFeatures, hasBias: false);
            using (no_grad()) lora_B.weight!.fill_(upInit);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => base_layer.forward(x) + lora_B.forward(lora_A.forward(x));
    }

    [Fact]
    public void Projections_can_be_wrapped_in_place_and_change_the_output()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json")));
        model.eval();
        using var _ = no_grad();
        var sample = randn(1, 4, 8, 8);
        var t = tensor(10L);
        var context = randn(1, 3, 32);
        var before = model.forward(sample, t, context);

        var attentions = model.AttentionModules().ToList();
        Assert.Equal(8, attentions.Count);
        Assert.Contains(attentions, a => a.Name == "up_blocks.1.attentions.1.transformer_blocks.0.attn2");   // attn1 + attn2 of 4 transformers: down_blocks.0, mid_block, up_blocks.1 (x2)

        foreach (var (_, attention) in attentions)
        {
            foreach (var name in Attention.ProjectionNames)
            {
                var linear = Assert.IsType<Linear>(attention.GetProjection(name));
                var weight = linear.weight!;
                attention.SetProjection(name, new LowRankWrapper(linear, weight.shape[1], weight.shape[0], upInit: 0f));
            }
        }
        var keys = model.state_dict().Keys.ToList();
        Assert.Contains("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.base_layer.weight", keys);
        Assert.Contains("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_B.weight", keys);
        Assert.Contains("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.base_layer.bias", keys);
        Assert.DoesNotContain("mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight", keys);

        // Zero up-projection: the adapter is a no-op, as LoRA starts.
        AssertClose(model.forward(sample, t, context), before, 1e-6, "zero adapter");

        // A non-zero delta on one projection reaches the output.
        var attn = attentions[0].Module;
        var q = (LowRankWrapper)attn.GetProjection("to_q");
        foreach (var (name, p) in q.named_parameters())
            if (name == "lora_B.weight") p.fill_(0.1f);
        Assert.True(MaxAbsDiff(model.forward(sample, t, context), before, "adapted") > 1e-4);
    }

    [Fact]
    public void Unknown_projection_name_is_rejected()
    {
        using var attention = new Attention(8, null, 2, 4, bias: false);
        Assert.Throws<ArgumentException>(() => attention.GetProjection("to_x"));
    }
}
