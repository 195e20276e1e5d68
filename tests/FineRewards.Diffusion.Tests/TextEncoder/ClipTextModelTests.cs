using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.TextEncoder;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Tests.TextEncoder;

public class ClipTextModelTests
{
    static readonly string TinyFile = Fixture.Path("clip", "clip_text_tiny.safetensors");

    // The fixture file holds the parameters (text_model.*) plus input.* and output.* tensors.
    static (ClipTextModel model, Dictionary<string, Tensor> all) LoadTiny()
    {
        var all = StateDictLoader.ReadSafetensors(TinyFile);
        var config = ClipTextConfig.FromJsonFile(Fixture.Path("clip", "clip_text_tiny.json"));
        var model = new ClipTextModel(config);
        StateDictLoader.Load(model, all.Where(kv => kv.Key.StartsWith("text_model.")).ToDictionary(), TinyFile);
        model.eval();
        return (model, all);
    }

    static void AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= atol, $"{what}: max |diff| {diff:g3} > {atol:g3}");
    }

    [Fact]
    public void Tiny_fixture_reproduces_all_six_reference_outputs()
    {
        var (model, all) = LoadTiny();
        using var _ = no_grad();
        using var output = model.forward(all["input.input_ids"]);

        Assert.Equal(3, output.HiddenStates.Count);
        for (int i = 0; i < 3; i++)
            AssertClose(all[$"output.hidden_states.{i}"], output.HiddenStates[i], 1e-5, $"hidden_states.{i}");
        AssertClose(all["output.last_hidden_state"], output.LastHiddenState, 1e-5, "last_hidden_state");
        AssertClose(all["output.pooler_output"], output.PooledOutput, 1e-5, "pooler_output");
        using var penultimate = model.FinalLayerNorm(output.HiddenStates[^2]);
        AssertClose(all["output.penultimate_final_layer_norm"], penultimate, 1e-5, "penultimate_final_layer_norm");
        // The embedding lookup is a single add: exact.
        Assert.True(all["output.hidden_states.0"].equal(output.HiddenStates[0]).all().item<bool>());
    }

    [Fact]
    public void Pooling_takes_the_first_argmax_when_eos_id_is_the_legacy_2()
    {
        var (model, all) = LoadTiny();
        var ids = all["input.input_ids"];
        Assert.Equal(new long[] { 9, 40 }, model.PooledIndex(ids));   // row 1 has EOS (999) repeated as padding

        using var _ = no_grad();
        using var output = model.forward(ids);
        Assert.True(output.PooledOutput[0].equal(output.LastHiddenState[0, 9]).all().item<bool>());
        Assert.True(output.PooledOutput[1].equal(output.LastHiddenState[1, 40]).all().item<bool>());
    }

    [Fact]
    public void Pooling_takes_the_first_eos_id_when_the_config_names_the_real_one()
    {
        using var model = new ClipTextModel(ClipTextConfig.Tiny() with { EosTokenId = 5 });
        // Row 0: EOS 5 at 2 although 900 is the largest id; row 1: first of several EOS.
        using var ids = tensor(new long[] { 0, 900, 5, 7, 0, 3, 5, 5 }, 2, 4);
        Assert.Equal(new long[] { 2, 2 }, model.PooledIndex(ids));
    }

    [Fact]
    public void The_mask_is_causal_later_tokens_do_not_change_earlier_states()
    {
        var (model, all) = LoadTiny();
        using var _ = no_grad();
        var ids = all["input.input_ids"][TensorIndex.Slice(0, 1)].clone();
        using var a = model.forward(ids);
        ids[0, 20] = tensor(500L);
        using var b = model.forward(ids);
        Assert.True(a.LastHiddenState[0, TensorIndex.Slice(0, 20)].equal(b.LastHiddenState[0, TensorIndex.Slice(0, 20)]).all().item<bool>());
        Assert.False(a.LastHiddenState[0, 20].equal(b.LastHiddenState[0, 20]).all().item<bool>());
    }

    [Fact]
    public void VitL14_keys_and_shapes_equal_transformers_and_total_123060480()
    {
        var expected = File.ReadAllLines(Fixture.Path("clip", "clip_text_vitl14_keys.txt"))
            .Where(l => !l.StartsWith('#') && l.Length > 0).ToList();
        long total = long.Parse(File.ReadAllLines(Fixture.Path("clip", "clip_text_vitl14_keys.txt"))
            .Single(l => l.StartsWith("# total ")).Substring("# total ".Length));

        // On the meta device: shapes without storage.
        using var model = new ClipTextModel(ClipTextConfig.VitL14, new Device(DeviceType.META));
        var sd = model.state_dict();
        Assert.All(sd.Values, t => Assert.Equal(DeviceType.META, t.device_type));
        var actual = sd.Select(kv => $"{kv.Key}\t{StateDictLoader.Shape(kv.Value.shape)}").ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(123_060_480, total);
        Assert.Equal(total, sd.Values.Sum(t => t.numel()));
    }

    [Fact]
    public void OpenClip_ViT_H_preset_has_the_sd2_text_encoder_size()
    {
        using var model = new ClipTextModel(ClipTextConfig.OpenClipVitH, new Device(DeviceType.META));
        var sd = model.state_dict();
        Assert.Equal(4 + 23 * 16, sd.Count);
        // 49408·1024 + 77·1024 + 23·(4·(1024²+1024) + 2·1024·4096 + 4096 + 1024 + 4·1024) + 2·1024
        Assert.Equal(340_387_840L, sd.Values.Sum(t => t.numel()));
        Assert.Equal(new long[] { 4096, 1024 }, sd["text_model.encoder.layers.22.mlp.fc1.weight"].shape);
    }

    [Fact]
    public void FromPretrained_loads_a_text_encoder_folder_and_ignores_legacy_position_ids()
    {
        var dir = Directory.CreateTempSubdirectory("clip-te-").FullName;
        try
        {
            File.Copy(Fixture.Path("clip", "clip_text_tiny.json"), Path.Combine(dir, "config.json"));
            var all = StateDictLoader.ReadSafetensors(TinyFile);
            var weights = all.Where(kv => kv.Key.StartsWith("text_model.")).ToDictionary();
            weights[ClipTextModel.LegacyPositionIdsKey] = arange(77L).unsqueeze(0);
            Safetensors.SaveStateDict(Path.Combine(dir, "model.safetensors"), weights);

            using var model = ClipTextModel.FromPretrained(dir);
            Assert.Equal(ScalarType.Float32, model.state_dict()["text_model.final_layer_norm.weight"].dtype);
            using var _ = no_grad();
            using var output = model.forward(all["input.input_ids"]);
            AssertClose(all["output.last_hidden_state"], output.LastHiddenState, 1e-5, "last_hidden_state");

            // Any other stray key is still an error.
            weights["text_model.extra"] = zeros(1);
            Safetensors.SaveStateDict(Path.Combine(dir, "model.safetensors"), weights);
            var e = Assert.Throws<CheckpointMismatchException>(() => ClipTextModel.FromPretrained(dir));
            Assert.Contains("text_model.extra", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Config_parsing_reads_hf_keys_and_rejects_unknown_activations()
    {
        var config = ClipTextConfig.FromJsonFile(Fixture.Path("clip", "clip_text_tiny.json"));
        Assert.Equal(ClipTextConfig.Tiny(), config);

        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"hidden_size": 32, "num_attention_heads": 4, "hidden_act": "relu"}""");
            var e = Assert.Throws<InputException>(() => ClipTextConfig.FromJsonFile(path));
            Assert.Contains("hidden_act", e.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
