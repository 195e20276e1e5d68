using FineRewards.Diffusion.IO;
using FineRewards.Diffusion.Models.Layers;
using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.UNet;

/// <summary>
/// diffusers' <c>UNet2DConditionModel</c> (Stable Diffusion 1.x / 2.x): predicts the noise (or v)
/// of a latent at a timestep, conditioned on text encoder states by cross-attention.
/// Parameter names and order equal the diffusers state dict, so diffusers checkpoints load as they are.
/// </summary>
public sealed class UNet2DConditionModel : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    // Field order = diffusers' registration order = state-dict order.
    private readonly Conv2d conv_in;
    private readonly Timesteps time_proj;
    private readonly TimestepEmbedding time_embedding;
    private readonly ModuleList<UNetDownBlock> down_blocks;
    private readonly ModuleList<UNetUpBlock> up_blocks;
    private readonly UNetMidBlock2DCrossAttn mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;

    public UNet2DConditionConfig Config { get; }

    /// <summary>Number of x2 upsamplers, so inputs whose sides are multiples of 2^this need no size hints.</summary>
    public int UpsamplerCount { get; }

    public UNet2DConditionModel(UNet2DConditionConfig config) : base(nameof(UNet2DConditionModel))
    {
        config.Validate();
        Config = config;
        int n = config.Blocks;
        var channels = config.BlockOutChannels;
        long timeInput = channels[0];
        long timeEmbed = channels[0] * 4;

        conv_in = nn.Conv2d(config.InChannels, channels[0], config.ConvInKernel, stride: 1, padding: config.ConvInKernel / 2);
        time_proj = new Timesteps(timeInput, config.FlipSinToCos, config.FreqShift);
        time_embedding = new TimestepEmbedding(timeInput, timeEmbed);

        down_blocks = new ModuleList<UNetDownBlock>();
        long outputChannel = channels[0];
        for (int i = 0; i < n; i++)
        {
            long inputChannel = outputChannel;
            outputChannel = channels[i];
            down_blocks.Add(new UNetDownBlock(config.DownBlockTypes[i], inputChannel, outputChannel, timeEmbed,
                config.LayersOf(i), addDownsample: i < n - 1, config,
                config.HeadsOf(i), config.CrossAttentionDimOf(i), config.TransformerLayersOf(i)));
        }

        mid_block = new UNetMidBlock2DCrossAttn(channels[n - 1], timeEmbed, config,
            config.HeadsOf(n - 1), config.CrossAttentionDimOf(n - 1), config.TransformerLayersOf(n - 1));

        // The decoder mirrors the encoder: per-block settings are read from the reversed lists.
        up_blocks = new ModuleList<UNetUpBlock>();
        outputChannel = channels[n - 1];
        for (int i = 0; i < n; i++)
        {
            int mirror = n - 1 - i;
            long prevOutputChannel = outputChannel;
            outputChannel = channels[mirror];
            long inputChannel = channels[Math.Max(mirror - 1, 0)];
            bool addUpsample = i < n - 1;
            if (addUpsample) UpsamplerCount++;
            up_blocks.Add(new UNetUpBlock(config.UpBlockTypes[i], inputChannel, outputChannel, prevOutputChannel, timeEmbed,
                config.LayersOf(mirror) + 1, addUpsample, config,
                config.HeadsOf(mirror), config.CrossAttentionDimOf(mirror), config.TransformerLayersOf(mirror)));
        }

        conv_norm_out = Norms.GroupNorm(config.NormNumGroups, channels[0], config.NormEps);
        conv_out = nn.Conv2d(channels[0], config.OutChannels, config.ConvOutKernel, stride: 1, padding: config.ConvOutKernel / 2);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers component folder (config.json + diffusion_pytorch_model[.fp16].safetensors).</summary>
    public static UNet2DConditionModel FromDiffusersFolder(string folder)
    {
        var (config, weights) = DiffusersFolder.Resolve(folder);
        return FromSafetensors(config, weights);
    }

    /// <summary>Builds the model from a config.json and loads a .safetensors state dict (strict; fp16 weights become fp32).</summary>
    public static UNet2DConditionModel FromSafetensors(string configPath, string weightsPath)
        => FromSafetensors(UNet2DConditionConfig.FromFile(configPath), weightsPath);

    public static UNet2DConditionModel FromSafetensors(UNet2DConditionConfig config, string weightsPath)
    {
        return StateDictLoader.LoadNew(new UNet2DConditionModel(config), weightsPath);
    }

    /// <summary>
    /// Every attention layer with its state-dict path (e.g. "down_blocks.0.attentions.0.transformer_blocks.0.attn2"),
    /// where an adapter (LoRA) finds the projections to wrap.
    /// </summary>
    public IEnumerable<(string Name, Attention Module)> AttentionModules()
        => named_modules().Where(m => m.module is Attention).Select(m => (m.name, (Attention)m.module));

    /// <param name="sample">[B, in_channels, H, W] noisy latent</param>
    /// <param name="timestep">[B] or a scalar (shared by the batch)</param>
    /// <param name="encoderHiddenStates">[B, L, cross_attention_dim] text encoder states</param>
    /// <returns>[B, out_channels, H, W]</returns>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates)
        => Forward(sample, timestep, encoderHiddenStates);

    /// <summary>
    /// The forward pass; when <paramref name="intermediates"/> is given it also receives the
    /// outputs diffusers' parity fixtures record: "time_proj", "time_embedding",
    /// "down_blocks.{i}" (hidden state after the block), "mid_block", "up_blocks.{i}".
    /// Those tensors belong to the caller's dispose scope.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, IDictionary<string, Tensor>? intermediates = null)
    {
        using var scope = NewDisposeScope();
        long batch = sample.shape[0];
        void Record(string name, Tensor t)
        {
            if (intermediates is not null) intermediates[name] = t.alias().MoveToOuterDisposeScope();
        }

        // Odd latent sizes: the decoder must upsample to the encoder's exact sizes.
        long factor = 1L << UpsamplerCount;
        bool forwardUpsampleSize = sample.shape[^2] % factor != 0 || sample.shape[^1] % factor != 0;

        if (Config.CenterInputSample) sample = 2 * sample - 1.0;

        // 1. time: [B] -> sinusoidal [B, C0] -> MLP [B, 4*C0]
        var timesteps = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        timesteps = timesteps.to(sample.device).expand(batch);                      // [B]
        var tProj = time_proj.forward(timesteps).to(sample.dtype);                  // [B, C0]
        Record("time_proj", tProj);
        var emb = time_embedding.forward(tProj);                                     // [B, 4*C0]
        Record("time_embedding", emb);

        // 2. encoder
        var h = conv_in.call(sample);                                             // [B, C0, H, W]
        var skips = new List<Tensor> { h };
        for (int i = 0; i < down_blocks.Count; i++)
        {
            var (hidden, blockSkips) = down_blocks[i].Forward(h, emb, encoderHiddenStates);   // [B, C_i, H/2^(i+1), W/2^(i+1)] (the last block keeps its size)
            h = hidden;
            skips.AddRange(blockSkips);
            Record($"down_blocks.{i}", h);
        }

        // 3. bottleneck
        h = mid_block.forward(h, emb, encoderHiddenStates);                          // [B, Clast, h, w]
        Record("mid_block", h);

        // 4. decoder: each block consumes its resnet count of skips from the end of the list
        for (int i = 0; i < up_blocks.Count; i++)
        {
            var block = up_blocks[i];
            int take = block.ResnetCount;
            var blockSkips = skips.GetRange(skips.Count - take, take);
            skips.RemoveRange(skips.Count - take, take);
            long[]? upsampleSize = forwardUpsampleSize && i < up_blocks.Count - 1 ? skips[^1].shape[2..] : null;
            h = block.Forward(h, blockSkips, emb, encoderHiddenStates, upsampleSize);
            Record($"up_blocks.{i}", h);
        }

        // 5. out
        h = conv_out.call(F.silu(conv_norm_out.forward(h)));                     // [B, out_channels, H, W]
        return h.MoveToOuterDisposeScope();
    }
}
