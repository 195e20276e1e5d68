using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Lora;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Checkpoints;

/// <summary>
/// LoRAs on a single-file-loaded model, in the kohya layout AUTOMATIC1111 and ComfyUI read: they name a
/// UNet layer as "lora_unet_" + its diffusers module path with underscores, and those tools find the
/// layer by converting the checkpoint's own keys to diffusers names, as <see cref="SingleFileKeys"/> does.
/// </summary>
public sealed class SingleFileLoraTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "fr-single-lora-" + Guid.NewGuid().ToString("N"));

    public SingleFileLoraTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    /// <summary>kohya module names of every UNet Linear/Conv weight the single file holds, derived from its own keys.</summary>
    static HashSet<string> KohyaNamesOfTheFile(SingleFileModels models)
    {
        using var reader = new SafetensorsReader(SingleFileFixture.TinyFile);
        var plan = SingleFileCheckpoint.Plan(reader.Entries, models.Architecture, models);
        return plan.Tensors.SelectMany(t => t.Targets)
            .Where(t => t.Target.Component == SdComponent.Unet && t.Target.Key.EndsWith(".weight"))
            .Select(t => LoraAdapter.KohyaPrefix + t.Target.Key[..^".weight".Length].Replace('.', '_'))
            .ToHashSet();
    }

    [Fact]
    public void Our_lora_on_a_single_file_model_saves_names_the_checkpoints_layers_answer_to()
    {
        using var models = SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        using var adapter = LoraAdapter.Create(models.Unet, new LoraConfig(Rank: 2, Alpha: 2, IncludeFeedForward: true));
        var path = Path.Combine(_folder, "ours.safetensors");
        adapter.Save(path, LoraAdapter.FileLayout.Kohya);

        var names = SafetensorsFile.ReadHeader(path).Tensors.Keys
            .Select(k => k[..k.IndexOf('.')]).ToHashSet();
        var fileLayers = KohyaNamesOfTheFile(models);
        Assert.Equal(adapter.Layers.Count, names.Count);
        Assert.Contains("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", names);
        Assert.Contains("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2", names);
        Assert.All(names, n => Assert.Contains(n, fileLayers));

        // And it loads back onto a fresh single-file model.
        using var again = SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        using var loaded = LoraAdapter.Load(path, again.Unet);
        Assert.Equal(adapter.Layers.Keys.Order(), loaded.Layers.Keys.Order());
    }

    [Fact]
    public void A_kohya_lora_for_this_architecture_loads_and_changes_the_output_as_merged_weights_do()
    {
        using var models = SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);
        // As kohya's sd-scripts writes one: fp16 down/up per layer and an alpha scalar (here alpha 1, rank 2: scale 0.5).
        var tensors = new Dictionary<string, Tensor>();
        using var generator = new Generator(5);
        var targets = LoraAdapter.LinearLayers(models.Unet).Where(l => l.Key.EndsWith(".attn2.to_k") || l.Key.EndsWith(".attn1.to_out.0")).ToList();
        Assert.NotEmpty(targets);
        foreach (var (module, linear) in targets)
        {
            string key = LoraAdapter.KohyaPrefix + module.Replace('.', '_');
            tensors[key + ".lora_down.weight"] = (randn([2, linear.weight!.shape[1]], generator: generator) * 0.5).to(ScalarType.Float16);
            tensors[key + ".lora_up.weight"] = (randn([linear.weight.shape[0], 2], generator: generator) * 0.5).to(ScalarType.Float16);
            tensors[key + ".alpha"] = tensor(1.0f);
        }
        var path = Path.Combine(_folder, "kohya.safetensors");
        SafetensorsFile.Write(path, tensors);
        foreach (var t in tensors.Values) t.Dispose();

        var reference = StateDictLoader.ReadSafetensors(SingleFileFixture.TinyOutputs);
        try
        {
            using var _ = no_grad();
            Tensor Run() => models.Unet.forward(reference["unet.sample"], reference["unet.timestep"], reference["unet.encoder_hidden_states"]);
            using var adapter = LoraAdapter.Load(path, models.Unet);
            Assert.Equal(targets.Count, adapter.Layers.Count);
            Assert.Equal(0.5, adapter.Scaling);
            using var plain = Run();
            Tensor attached;
            using (adapter.Attach(models.Unet)) attached = Run();
            adapter.Merge(models.Unet);
            using var merged = Run();
            using (attached)
            {
                Assert.True(DiffusersFixtures.MaxAbsDiff(attached, plain, "lora effect") > 1e-3, "the LoRA changed nothing");
                DiffusersFixtures.AssertClose(attached, merged, 1e-4, "attached vs merged");
            }
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }
}
