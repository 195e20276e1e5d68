using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Lora;

public class LoraAdapterTests
{
    static Tensor Input(long seed = 3) => randn(new long[] { 2, 5, 8 }, generator: new Generator((ulong)seed));

    /// <summary>Gives every B matrix random values so the adapter actually changes outputs.</summary>
    static void Randomise(LoraAdapter adapter, long seed)
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var (_, (_, up)) in adapter.Layers) up.weight!.copy_(randn(up.weight.shape, generator: g).mul(0.1));
    }

    static double MaxDiff(Tensor a, Tensor b) => a.sub(b).abs().max().item<float>();

    [Fact]
    public void Default_targets_are_the_attention_projections()
    {
        using var model = new TinyAttentionNet();
        using var adapter = LoraAdapter.Create(model, new LoraConfig());
        Assert.Equal(new[]
        {
            "blocks.0.attn1.to_k", "blocks.0.attn1.to_out.0", "blocks.0.attn1.to_q", "blocks.0.attn1.to_v",
            "blocks.1.attn1.to_k", "blocks.1.attn1.to_out.0", "blocks.1.attn1.to_q", "blocks.1.attn1.to_v",
        }, adapter.Layers.Keys.Order(StringComparer.Ordinal));
        using var withFf = LoraAdapter.Create(model, new LoraConfig(Targets: FineRewards.Contracts.LoraTargets.AttentionFeedForward));
        Assert.Contains("blocks.1.ff.net.0.proj", withFf.Layers.Keys);
        Assert.Contains("blocks.1.ff.net.2", withFf.Layers.Keys);
        Assert.Equal(12, withFf.Layers.Count);
        // rank 4 on 8x8 layers: A 4x8 + B 8x4 per layer.
        Assert.Equal(8 * (4 * 8 + 8 * 4), adapter.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void A_fresh_adapter_leaves_outputs_unchanged_and_a_trained_one_adds_scaled_BA()
    {
        using var model = new TinyAttentionNet();
        using var x = Input();
        using var baseline = model.call(x);
        using var adapter = LoraAdapter.Create(model, new LoraConfig(Rank: 2, Alpha: 1));
        using (adapter.Attach(model)) Assert.Equal(0.0, MaxDiff(model.call(x), baseline));

        Randomise(adapter, 11);
        // One layer in isolation: y = W x + b + scale * (alpha / r) * B A x.
        var layer = LoraAdapter.LinearLayers(model)["blocks.0.attn1.to_out.0"];
        var (down, up) = adapter.Layers["blocks.0.attn1.to_out.0"];
        using var h = randn(3, 8);
        var expected = layer.call(h).add(h.matmul(down.weight!.t()).matmul(up.weight!.t()).mul(0.7 * 0.5));
        using (adapter.Attach(model, scale: 0.7))
        {
            Assert.True(MaxDiff(layer.call(h), expected) < 1e-6);
            Assert.True(MaxDiff(model.call(x), baseline) > 1e-3);
        }
        // Detached again: back to the base model exactly.
        Assert.Equal(0.0, MaxDiff(model.call(x), baseline));
    }

    [Fact]
    public void Merging_equals_attaching_and_unmerging_restores_the_weights()
    {
        using var model = new TinyAttentionNet();
        using var x = Input();
        using var adapter = LoraAdapter.Create(model, new LoraConfig(Targets: FineRewards.Contracts.LoraTargets.AttentionFeedForward));
        Randomise(adapter, 5);
        Tensor attached;
        using (adapter.Attach(model, 0.8)) attached = model.call(x);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        adapter.Merge(model, 0.8);
        Assert.True(MaxDiff(model.call(x), attached) < 1e-5);
        adapter.Unmerge(model, 0.8);
        foreach (var (name, value) in model.state_dict()) Assert.True(MaxDiff(value, before[name]) < 1e-6, name);
    }

    [Fact]
    public void Several_adapters_stack_with_their_own_scales()
    {
        using var model = new TinyAttentionNet();
        using var x = Input();
        using var a = LoraAdapter.Create(model, new LoraConfig(), seed: 1);
        using var b = LoraAdapter.Create(model, new LoraConfig(Rank: 2, Alpha: 2), seed: 2);
        Randomise(a, 21);
        Randomise(b, 22);
        var layer = LoraAdapter.LinearLayers(model)["blocks.1.attn1.to_v"];
        using var h = randn(4, 8);
        var expected = layer.call(h).add(a.Delta("blocks.1.attn1.to_v", h).mul(1.0)).add(b.Delta("blocks.1.attn1.to_v", h).mul(0.25));
        using (a.Attach(model, 1.0))
        using (b.Attach(model, 0.25))
            Assert.True(MaxDiff(layer.call(h), expected) < 1e-6);
    }

    [Theory]
    [InlineData(LoraAdapter.FileLayout.Peft)]
    [InlineData(LoraAdapter.FileLayout.Kohya)]
    public void Files_round_trip_in_both_layouts_with_metadata(LoraAdapter.FileLayout layout)
    {
        using var model = new TinyAttentionNet();
        using var x = Input();
        using var adapter = LoraAdapter.Create(model, new LoraConfig(Rank: 3, Alpha: 1.5));
        Randomise(adapter, 9);
        string path = Path.Combine(Directory.CreateTempSubdirectory("fr-lora").FullName, "lora.safetensors");
        adapter.Save(path, layout, new Dictionary<string, string> { ["finerewards.base_model_sha256"] = "abc", ["finerewards.rounds"] = "2" });

        var header = SafetensorsFile.ReadHeader(path);
        Assert.Equal("abc", header.Metadata["finerewards.base_model_sha256"]);
        Assert.Equal("2", header.Metadata["finerewards.rounds"]);
        Assert.Equal("3", header.Metadata["finerewards.rank"]);
        if (layout == LoraAdapter.FileLayout.Peft)
        {
            Assert.Equal(new long[] { 3, 8 }, header.Tensors["unet.blocks.0.attn1.to_out.0.lora_A.weight"].Shape);
            Assert.Equal(new long[] { 8, 3 }, header.Tensors["unet.blocks.0.attn1.to_out.0.lora_B.weight"].Shape);
            Assert.Equal(16, header.Tensors.Count);
        }
        else
        {
            Assert.Equal(new long[] { 3, 8 }, header.Tensors["lora_unet_blocks_0_attn1_to_out_0.lora_down.weight"].Shape);
            Assert.Equal(new long[] { 8, 3 }, header.Tensors["lora_unet_blocks_0_attn1_to_out_0.lora_up.weight"].Shape);
            Assert.Equal("F32", header.Tensors["lora_unet_blocks_0_attn1_to_q.alpha"].Dtype);
            Assert.Equal(24, header.Tensors.Count);
        }

        using var loaded = LoraAdapter.Load(path, model);
        Assert.Equal(3, loaded.Rank);
        Assert.Equal(1.5, loaded.Alpha);
        Tensor expected, actual;
        using (adapter.Attach(model)) expected = model.call(x);
        using (loaded.Attach(model)) actual = model.call(x);
        Assert.True(MaxDiff(expected, actual) < 1e-6);
    }

    [Fact]
    public void A_file_for_another_model_names_every_layer_that_does_not_fit()
    {
        using var big = new TinyAttentionNet(dim: 8, depth: 3);
        using var small = new TinyAttentionNet(dim: 8, depth: 2);
        using var adapter = LoraAdapter.Create(big, new LoraConfig());
        string path = Path.Combine(Directory.CreateTempSubdirectory("fr-lora").FullName, "big.safetensors");
        adapter.Save(path, LoraAdapter.FileLayout.Kohya);
        var e = Assert.Throws<CheckpointMismatchException>(() => LoraAdapter.Load(path, small));
        Assert.Contains(e.Problems, p => p.Contains("lora_unet_blocks_2_attn1_to_q"));

        using var wide = new TinyAttentionNet(dim: 6, depth: 3);
        var shape = Assert.Throws<CheckpointMismatchException>(() => adapter.Attach(wide));
        Assert.Contains(shape.Problems, p => p.Contains("blocks.0.attn1.to_q") && p.Contains("[6, 6]"));
    }

    [Fact]
    public void Training_moves_only_the_adapter()
    {
        using var model = new TinyAttentionNet();
        foreach (var p in model.parameters()) p.requires_grad = false;
        using var adapter = LoraAdapter.Create(model, new LoraConfig());
        var baseBefore = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var x = Input(1);
        using var target = Input(2);
        var optimizer = optim.AdamW(adapter.parameters(), lr: 1e-2);
        double first = 0, last = 0;
        using (adapter.Attach(model))
        {
            for (int step = 0; step < 20; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.mse_loss(model.call(x), target);
                loss.backward();
                optimizer.step();
                if (step == 0) first = loss.item<float>();
                last = loss.item<float>();
            }
        }
        Assert.True(last < first, $"loss {first} -> {last}");
        foreach (var (name, value) in model.state_dict()) Assert.Equal(0.0, MaxDiff(value, baseBefore[name]));
        Assert.Contains(adapter.Layers.Values, l => l.Up.weight!.abs().sum().item<float>() > 0);
    }
}
