using FineRewards.Diffusion.Checkpoints;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.Checkpoints;

/// <summary>
/// LoRAs on a single-file-loaded model, in the kohya layout AUTOMATIC1111 and ComfyUI read: they name a
/// UNet layer as "lora_unet_" + its diffusers module path with underscores, and those tools find the
/// layer by converting the checkpoint's own keys to diffusers names, as <see cref="SingleFileKeys"/> does.
/// kohya LoRAs as sd-scripts writes them (text-encoder, LoCon conv and attention layers, alpha per
/// layer) must change the outputs exactly as the weights W + (alpha/rank)·up·down merged by hand do.
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
        using var adapter = LoraAdapter.Create(models.Unet, new LoraConfig(Rank: 2, Alpha: 2, Targets: FineRewards.Contracts.LoraTargets.AttentionFeedForward));
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

        using var adapter = LoraAdapter.Load(path, models.Unet);
        Assert.Equal(targets.Count, adapter.Layers.Count);
        Assert.Equal(0.5, adapter.Scaling);
        AssertAttachedEqualsMerged(models, adapter, "attention");
    }

    /// <summary>
    /// Runs the UNet on the fixture's inputs plain, with the adapter attached and with it merged: the
    /// LoRA must move the output, and attaching (hooks) must equal merging (weights).
    /// </summary>
    static void AssertAttachedEqualsMerged(SingleFileModels models, LoraAdapter adapter, string what)
    {
        var reference = StateDictLoader.ReadSafetensors(SingleFileFixture.TinyOutputs);
        try
        {
            using var _ = no_grad();
            Tensor Run() => models.Unet.forward(reference["unet.sample"], reference["unet.timestep"], reference["unet.encoder_hidden_states"]);
            using var plain = Run();
            Tensor attached;
            using (adapter.Attach(models.Unet)) attached = Run();
            adapter.Merge(models.Unet);
            using var merged = Run();
            using (attached)
            {
                Assert.True(DiffusersFixtures.MaxAbsDiff(attached, plain, "lora effect") > 1e-3, $"{what}: the LoRA changed nothing");
                DiffusersFixtures.AssertClose(attached, merged, 1e-4, $"{what}: attached vs merged");
            }
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }

    /// <summary>kohya name, the model it belongs to, the diffusers module path, its rank and alpha.</summary>
    static readonly (string Kohya, bool TextEncoder, string Module, int Rank, float Alpha)[] Layers =
    [
        ("lora_te_text_model_encoder_layers_0_self_attn_q_proj", true, "text_model.encoder.layers.0.self_attn.q_proj", 2, 1f),
        ("lora_te_text_model_encoder_layers_0_self_attn_k_proj", true, "text_model.encoder.layers.0.self_attn.k_proj", 2, 1f),
        ("lora_te_text_model_encoder_layers_0_self_attn_v_proj", true, "text_model.encoder.layers.0.self_attn.v_proj", 2, 1f),
        ("lora_te_text_model_encoder_layers_0_self_attn_out_proj", true, "text_model.encoder.layers.0.self_attn.out_proj", 2, 1f),
        ("lora_te_text_model_encoder_layers_1_mlp_fc1", true, "text_model.encoder.layers.1.mlp.fc1", 2, 1f),
        ("lora_te_text_model_encoder_layers_1_mlp_fc2", true, "text_model.encoder.layers.1.mlp.fc2", 2, 1f),
        ("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k", false, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k", 2, 1f),
        ("lora_unet_down_blocks_0_attentions_0_proj_in", false, "down_blocks.0.attentions.0.proj_in", 3, 2f),
        ("lora_unet_up_blocks_3_attentions_1_proj_out", false, "up_blocks.3.attentions.1.proj_out", 3, 2f),
        ("lora_unet_down_blocks_0_resnets_0_conv1", false, "down_blocks.0.resnets.0.conv1", 3, 2f),
        ("lora_unet_down_blocks_1_resnets_1_conv2", false, "down_blocks.1.resnets.1.conv2", 3, 2f),
        ("lora_unet_down_blocks_0_downsamplers_0_conv", false, "down_blocks.0.downsamplers.0.conv", 3, 2f),
        ("lora_unet_up_blocks_0_upsamplers_0_conv", false, "up_blocks.0.upsamplers.0.conv", 3, 2f),
        ("lora_unet_up_blocks_1_resnets_0_conv_shortcut", false, "up_blocks.1.resnets.0.conv_shortcut", 3, 2f),
        ("lora_unet_up_blocks_1_resnets_0_time_emb_proj", false, "up_blocks.1.resnets.0.time_emb_proj", 2, 1f),
    ];

    static SingleFileModels LoadTiny() => SingleFileCheckpoint.Load(SingleFileFixture.TinyFile, SingleFileFixture.TinyOverride);

    /// <summary>Writes the kohya file for <see cref="Layers"/> with fp16 random weights; returns them in F32 for the manual merge.</summary>
    Dictionary<string, Tensor> WriteKohyaFile(SingleFileModels models, string path)
    {
        var te = models.TextEncoder.state_dict();
        var unet = models.Unet.state_dict();
        var tensors = new Dictionary<string, Tensor>();
        var generator = new Generator(17);
        foreach (var (kohya, isTe, module, rank, alpha) in Layers)
        {
            var w = (isTe ? te : unet)[module + ".weight"];
            long[] downShape = w.dim() == 4 ? [rank, w.shape[1], w.shape[2], w.shape[3]] : [rank, w.shape[1]];
            long[] upShape = w.dim() == 4 ? [w.shape[0], rank, 1, 1] : [w.shape[0], rank];
            tensors[kohya + ".lora_down.weight"] = (randn(downShape, generator: generator) * 0.3).to(ScalarType.Float16);
            tensors[kohya + ".lora_up.weight"] = (randn(upShape, generator: generator) * 0.3).to(ScalarType.Float16);
            tensors[kohya + ".alpha"] = tensor(alpha);
        }
        SafetensorsFile.Write(path, tensors);
        return tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32));
    }

    static Tensor Run(SingleFileModels models, Dictionary<string, Tensor> reference)
    {
        using var ids = tensor(new long[] { 0, 5, 17, 3, 9, 1, 1, 1, 0, 2, 4, 8, 16, 11, 7, 1 }).reshape(2, 8);
        using var text = models.TextEncoder.forward(ids);
        return models.Unet.forward(reference["unet.sample"], reference["unet.timestep"], text.LastHiddenState);
    }

    [Fact]
    public void Text_encoder_conv_and_attention_layers_change_outputs_as_the_hand_merged_weights_do()
    {
        using var models = LoadTiny();
        using var manual = LoadTiny();
        var path = Path.Combine(_folder, "kohya.safetensors");
        var file = WriteKohyaFile(models, path);
        var reference = StateDictLoader.ReadSafetensors(SingleFileFixture.TinyOutputs);
        try
        {
            using var _ = no_grad();
            // W + (alpha/rank)·up·down, by hand: 4-D weights flatten to [out, r] x [r, in*kh*kw].
            var teWeights = manual.TextEncoder.state_dict();
            var unetWeights = manual.Unet.state_dict();
            foreach (var (kohya, isTe, module, rank, alpha) in Layers)
            {
                var w = (isTe ? teWeights : unetWeights)[module + ".weight"];
                var up = file[kohya + ".lora_up.weight"].flatten(1);
                var down = file[kohya + ".lora_down.weight"].flatten(1);
                w.add_(up.matmul(down).reshape(w.shape).mul(alpha / rank));
            }

            using var adapter = LoraAdapter.Load(path, models.Unet, models.TextEncoder);
            Assert.Equal(Layers.Length, adapter.Parts.Count);
            Assert.Equal(Layers.Select(l => (l.TextEncoder ? LoraAdapter.TextEncoderKey : "") + l.Module).Order(), adapter.Parts.Keys.Order());
            Assert.Equal(Layers.Count(l => l.Rank == 3), adapter.Parts.Values.Count(p => p.Down is Conv2d));
            Assert.Equal(2.0 / 3, adapter.Parts["down_blocks.0.downsamplers.0.conv"].Scaling, 12);

            using var plain = Run(models, reference);
            Tensor attached;
            using (adapter.Attach(models.Unet, models.TextEncoder)) attached = Run(models, reference);
            using var expected = Run(manual, reference);
            using (attached)
            {
                Assert.True(DiffusersFixtures.MaxAbsDiff(attached, plain, "lora effect") > 1e-2, "the LoRA changed nothing");
                DiffusersFixtures.AssertClose(attached, expected, 1e-4, "attached vs hand-merged");
            }
            using var after = Run(models, reference);
            Assert.Equal(0.0, DiffusersFixtures.MaxAbsDiff(after, plain, "detached"));

            // Merge does the same through the adapter's own weights.
            adapter.Merge(models.Unet, textEncoder: models.TextEncoder);
            using var merged = Run(models, reference);
            DiffusersFixtures.AssertClose(merged, expected, 1e-4, "merged vs hand-merged");
            // The text-encoder half counts: the conditioning itself moved exactly as hand-merged.
            using var ids = tensor(new long[] { 0, 5, 17, 3 }).reshape(1, 4);
            using var ours = models.TextEncoder.forward(ids);
            using var theirs = manual.TextEncoder.forward(ids);
            using var untouched = LoadTiny();
            using var original = untouched.TextEncoder.forward(ids);
            DiffusersFixtures.AssertClose(ours.LastHiddenState, theirs.LastHiddenState, 1e-4, "text encoder vs hand-merged");
            Assert.True(DiffusersFixtures.MaxAbsDiff(ours.LastHiddenState, original.LastHiddenState, "text encoder lora effect") > 1e-3);

        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
            foreach (var t in file.Values) t.Dispose();
        }
    }

    [Fact]
    public void Every_unet_conv_has_exactly_one_kohya_name_and_loads_onto_it()
    {
        using var models = LoadTiny();
        var convs = models.Unet.named_modules().Where(m => m.module is Conv2d).Select(m => (m.name, Conv: (Conv2d)m.module)).ToList();
        // The tiny architecture has every conv kind kohya names: resnet conv1/conv2/conv_shortcut, down/upsamplers, 1x1 proj_in/out, conv_in/out.
        Assert.Contains(convs, c => c.name.EndsWith(".conv_shortcut"));
        Assert.Contains(convs, c => c.name.EndsWith(".proj_in"));
        var kohyaNames = convs.Select(c => "lora_unet_" + c.name.Replace('.', '_')).ToList();
        Assert.Equal(kohyaNames.Count, kohyaNames.Distinct().Count());

        var tensors = new Dictionary<string, Tensor>();
        var generator = new Generator(3);
        foreach (var ((_, conv), name) in convs.Zip(kohyaNames))
        {
            var w = conv.weight!;
            tensors[name + ".lora_down.weight"] = randn([4, w.shape[1], w.shape[2], w.shape[3]], generator: generator) * 0.1;
            tensors[name + ".lora_up.weight"] = randn([w.shape[0], 4, 1, 1], generator: generator) * 0.1;
            tensors[name + ".alpha"] = tensor(4f);
        }
        var path = Path.Combine(_folder, "all-convs.safetensors");
        SafetensorsFile.Write(path, tensors);
        using var adapter = LoraAdapter.Load(path, models.Unet);
        Assert.Equal(convs.Select(c => c.name).Order(), adapter.Parts.Keys.Order());
        Assert.All(adapter.Parts.Values, p => Assert.IsType<Conv2d>(p.Down));

        // Every one of them takes part when attached (its hook fires), exactly as when merged.
        AssertAttachedEqualsMerged(models, adapter, "all convs");
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void Unknown_keys_are_reported_by_name_with_the_file()
    {
        using var models = LoadTiny();
        var path = Path.Combine(_folder, "odd.safetensors");
        var file = WriteKohyaFile(models, path);
        var tensors = StateDictLoader.ReadSafetensors(path);
        tensors["lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a"] = zeros(2, 8);                 // LoHa, not LoRA
        tensors["lora_unet_down_blocks_9_resnets_0_conv1.lora_down.weight"] = zeros(2, 8, 3, 3);     // no such layer
        tensors["lora_te_text_model_encoder_layers_0_mlp_fc9.lora_up.weight"] = zeros(8, 2);         // no such layer
        SafetensorsFile.Write(path, tensors);
        var e = Assert.Throws<CheckpointMismatchException>(() => LoraAdapter.Load(path, models.Unet, models.TextEncoder));
        Assert.Contains(path, e.Message);
        Assert.Contains("lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a", e.Message);
        Assert.Contains("lora_unet_down_blocks_9_resnets_0_conv1.lora_down.weight", e.Message);
        Assert.Contains("lora_te_text_model_encoder_layers_0_mlp_fc9.lora_up.weight", e.Message);

        // A conv LoRA whose down weight has the wrong kernel names the layer and both shapes.
        tensors = StateDictLoader.ReadSafetensors(path);
        foreach (var k in tensors.Keys.Where(k => !k.StartsWith("lora_unet_down_blocks_0_resnets_0_conv1.lora") && !k.StartsWith("lora_unet_down_blocks_0_resnets_0_conv1.alpha")).ToList()) tensors.Remove(k);
        tensors["lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"] = zeros(3, 8, 1, 1);
        SafetensorsFile.Write(path, tensors);
        e = Assert.Throws<CheckpointMismatchException>(() => LoraAdapter.Load(path, models.Unet));
        Assert.Contains("lora_unet_down_blocks_0_resnets_0_conv1", e.Message);
        Assert.Contains("[3, 8, 1, 1]", e.Message);
        foreach (var t in file.Values) t.Dispose();
    }

    [Theory]
    [InlineData(LoraAdapter.FileLayout.Kohya)]
    [InlineData(LoraAdapter.FileLayout.Peft)]
    public void Our_save_of_a_text_encoder_and_conv_lora_loads_back_identically(LoraAdapter.FileLayout layout)
    {
        using var models = LoadTiny();
        var source = Path.Combine(_folder, "kohya.safetensors");
        var file = WriteKohyaFile(models, source);
        using var adapter = LoraAdapter.Load(source, models.Unet, models.TextEncoder);
        var saved = Path.Combine(_folder, $"ours-{layout}.safetensors");
        adapter.Save(saved, layout);

        var names = SafetensorsFile.ReadHeader(saved).Tensors.Keys.ToList();
        if (layout == LoraAdapter.FileLayout.Kohya)
            Assert.Equal(SafetensorsFile.ReadHeader(source).Tensors.Keys.Order(), names.Order());   // the very names kohya wrote
        else
            Assert.Contains("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", names);

        using var loaded = LoraAdapter.Load(saved, models.Unet, models.TextEncoder);
        Assert.Equal(adapter.Parts.Keys.Order(), loaded.Parts.Keys.Order());
        foreach (var (key, part) in adapter.Parts)
        {
            var other = loaded.Parts[key];
            Assert.Equal(part.Down.GetType(), other.Down.GetType());
            if (layout == LoraAdapter.FileLayout.Kohya) Assert.Equal(part.Alpha, other.Alpha);
            using var a = LoraAdapter.MergedDelta(part, [1, -1]);
            using var b = LoraAdapter.MergedDelta(other, [1, -1]);
            Assert.Equal(0.0, DiffusersFixtures.MaxAbsDiff(a, b, key));
        }
        foreach (var t in file.Values) t.Dispose();
    }
}
