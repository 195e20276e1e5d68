using FineRewards.Contracts;
using FineRewards.Diffusion.Lora;
using FineRewards.Diffusion.Models.UNet;
using FineRewards.Diffusion.Pipelines;
using FineRewards.Diffusion.Tests.Pipelines;
using TorchSharp;
using static TorchSharp.torch;
using static FineRewards.Diffusion.Tests.DiffusersFixtures;

namespace FineRewards.Diffusion.Tests.Lora;

/// <summary>LoRA on the real UNet: the adapters' forward hooks must fire inside Attention.</summary>
public class UNetLoraTests
{
    internal static UNet2DConditionModel TinyUnet()
    {
        var unet = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(PathOf("unet_tiny.json")));
        SyntheticPipeline.Reinitialize(unet, new Generator(21));
        unet.eval();
        return unet;
    }

    internal static (Tensor Sample, Tensor T, Tensor Context) Inputs()
    {
        var g = new Generator(5);
        return (randn(new long[] { 2, 4, 8, 8 }, generator: g), tensor(500f), randn(new long[] { 2, 7, 32 }, generator: g));
    }

    static void Randomise(LoraAdapter adapter, long seed)
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var (_, (_, up)) in adapter.Layers) up.weight!.copy_(randn(up.weight.shape, generator: g).mul(0.2));
    }

    static double MaxDiff(Tensor a, Tensor b) => a.sub(b).abs().max().item<float>();

    [Fact]
    public void Adapters_change_the_unet_output_only_when_B_is_nonzero_and_scale_is_nonzero()
    {
        using var unet = TinyUnet();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (x, t, ctx) = Inputs();
        var baseline = unet.forward(x, t, ctx);
        using var adapter = LoraAdapter.Create(unet, new LoraConfig());
        // 8 attention layers (see the fixture) x to_q, to_k, to_v, to_out.0.
        Assert.Equal(32, adapter.Layers.Count);
        Assert.All(adapter.Layers.Keys, k => Assert.Matches(@"\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$", k));

        using (adapter.Attach(unet)) Assert.Equal(0.0, MaxDiff(unet.forward(x, t, ctx), baseline));   // fresh: B = 0
        Randomise(adapter, 3);
        using (adapter.Attach(unet)) Assert.True(MaxDiff(unet.forward(x, t, ctx), baseline) > 1e-3, "a nonzero LoRA must change the UNet output");
        using (adapter.Attach(unet, scale: 0.0)) Assert.Equal(0.0, MaxDiff(unet.forward(x, t, ctx), baseline));
        Assert.Equal(0.0, MaxDiff(unet.forward(x, t, ctx), baseline));   // detached
    }

    [Fact]
    public void Merge_matches_attach_and_unmerge_restores_the_unet()
    {
        using var unet = TinyUnet();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (x, t, ctx) = Inputs();
        using var adapter = LoraAdapter.Create(unet, new LoraConfig(Rank: 2, Alpha: 1));
        Randomise(adapter, 9);
        Tensor attached;
        using (adapter.Attach(unet, 0.6)) attached = unet.forward(x, t, ctx);
        var before = unet.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        adapter.Merge(unet, 0.6);
        Assert.True(MaxDiff(unet.forward(x, t, ctx), attached) < 1e-4);
        adapter.Unmerge(unet, 0.6);
        foreach (var (name, value) in unet.state_dict()) Assert.True(MaxDiff(value, before[name]) < 1e-6, name);
    }

    [Theory]
    [InlineData(LoraAdapter.FileLayout.Peft)]
    [InlineData(LoraAdapter.FileLayout.Kohya)]
    public void The_pipeline_applies_lora_files_per_request_and_detaches_them(LoraAdapter.FileLayout layout)
    {
        using var folder = new TinyModelFolder();
        using var pipeline = folder.Load();
        string path = Path.Combine(folder.Root, $"style-{layout}.safetensors");
        using (var adapter = LoraAdapter.Create(pipeline.Unet, new LoraConfig()))
        {
            Randomise(adapter, 4);
            adapter.Save(path, layout);
        }
        var request = new GenerationRequest("a red circle", 1, 11, Steps: 3, Width: 16, Height: 16);
        var plain = pipeline.Generate(request)[0];
        var styled = pipeline.Generate(request with { Loras = [new LoraReference(path, 1.0)] })[0];
        var zero = pipeline.Generate(request with { Loras = [new LoraReference(path, 0.0)] })[0];
        var after = pipeline.Generate(request)[0];

        Assert.False(plain.Image.Pixels.AsSpan().SequenceEqual(styled.Image.Pixels));
        Assert.True(plain.Image.Pixels.AsSpan().SequenceEqual(zero.Image.Pixels));
        Assert.True(plain.Image.Pixels.AsSpan().SequenceEqual(after.Image.Pixels));
        Assert.Contains("\"scale\":1", styled.Provenance["loras"]);
        Assert.Contains("style-", styled.Provenance["loras"]);
        Assert.Matches("\"sha256\":\"[0-9a-f]{64}\"", styled.Provenance["loras"]);

        // Two adapters at once with their own scales (a personal LoRA over a project one).
        var both = pipeline.Generate(request with { Loras = [new LoraReference(path, 0.5), new LoraReference(path, 0.5)] })[0];
        Assert.True(both.Image.Pixels.AsSpan().SequenceEqual(styled.Image.Pixels)
            || both.Image.Pixels.Zip(styled.Image.Pixels).All(p => Math.Abs(p.First - p.Second) <= 1),
            "two halves of one adapter should equal it whole (up to rounding)");
    }

    [Fact]
    public void The_pipeline_applies_a_kohya_text_encoder_lora_and_detaches_it()
    {
        using var folder = new TinyModelFolder();
        using var pipeline = folder.Load();
        string path = Path.Combine(folder.Root, "te.safetensors");
        // Text-encoder layers only, as kohya names them; alpha 0 means "no scaling" (alpha = rank) to kohya.
        var tensors = new Dictionary<string, Tensor>();
        var g = new Generator(8);
        foreach (var (name, linear) in LoraAdapter.LinearLayers(pipeline.TextEncoder).Where(l => l.Key.Contains(".self_attn.")))
        {
            string key = LoraAdapter.KohyaTextEncoderPrefix + name.Replace('.', '_');
            tensors[key + ".lora_down.weight"] = randn([2, linear.weight!.shape[1]], generator: g);
            tensors[key + ".lora_up.weight"] = randn([linear.weight.shape[0], 2], generator: g);
            tensors[key + ".alpha"] = tensor(0f);
        }
        Assert.NotEmpty(tensors);
        FineRewards.Diffusion.IO.SafetensorsFile.Write(path, tensors);
        using (var adapter = LoraAdapter.Load(path, pipeline.Unet, pipeline.TextEncoder))
            Assert.All(adapter.Parts.Values, p => Assert.Equal(1.0, p.Scaling));

        var request = new GenerationRequest("a red circle", 1, 11, Steps: 3, Width: 16, Height: 16);
        var plain = pipeline.Generate(request)[0];
        var styled = pipeline.Generate(request with { Loras = [new LoraReference(path, 1.0)] })[0];
        var after = pipeline.Generate(request)[0];
        Assert.False(plain.Image.Pixels.AsSpan().SequenceEqual(styled.Image.Pixels), "the text-encoder LoRA changed nothing");
        Assert.True(plain.Image.Pixels.AsSpan().SequenceEqual(after.Image.Pixels));
    }

    [Fact]
    public void Text_encoder_lora_tensors_are_refused_by_name()
    {
        using var unet = TinyUnet();
        using var adapter = LoraAdapter.Create(unet, new LoraConfig());
        var path = Path.Combine(Path.GetTempPath(), $"fr-te-lora-{Guid.NewGuid():N}.safetensors");
        try
        {
            adapter.Save(path, LoraAdapter.FileLayout.Kohya);
            var tensors = FineRewards.Diffusion.IO.StateDictLoader.ReadSafetensors(path);
            tensors["lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = zeros(4, 32);
            FineRewards.Diffusion.IO.SafetensorsFile.Write(path, tensors);
            var e = Assert.Throws<FineRewards.Diffusion.IO.CheckpointMismatchException>(() => LoraAdapter.Load(path, unet));
            Assert.Contains("lora_te_text_model_encoder_layers_0_self_attn_q_proj", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
