using FineRewards.Diffusion.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>
/// diffusers' <c>AutoencoderKL</c>, the Stable Diffusion VAE: images in [-1, 1] to a diagonal
/// Gaussian over latents and latents back to images. The scaling factor is NOT applied here:
/// callers multiply encoded latents by <see cref="ScalingFactor"/> and divide before decoding.
/// </summary>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>
{
    private readonly Encoder encoder;
    private readonly Decoder decoder;
    private readonly Conv2d quant_conv;
    private readonly Conv2d post_quant_conv;

    public AutoencoderKLConfig Config { get; }
    public double ScalingFactor => Config.ScalingFactor;

    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        long latent = config.LatentChannels;
        encoder = new Encoder(config);
        decoder = new Decoder(config);
        quant_conv = nn.Conv2d(2 * latent, 2 * latent, 1);
        post_quant_conv = nn.Conv2d(latent, latent, 1);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers component folder (config.json + diffusion_pytorch_model[.fp16].safetensors).</summary>
    public static AutoencoderKL FromDiffusersFolder(string folder)
    {
        var (config, weights) = DiffusersFolder.Resolve(folder);
        return FromSafetensors(config, weights);
    }

    /// <summary>Builds the model from a config.json and loads a .safetensors state dict (strict; fp16 weights become fp32).</summary>
    public static AutoencoderKL FromSafetensors(string configPath, string weightsPath)
        => FromSafetensors(AutoencoderKLConfig.FromFile(configPath), weightsPath);

    public static AutoencoderKL FromSafetensors(AutoencoderKLConfig config, string weightsPath)
    {
        return StateDictLoader.LoadNew(new AutoencoderKL(config), weightsPath);
    }

    /// <param name="image">[B, in_channels, H, W] in [-1, 1]</param>
    /// <returns>mean and log-variance, each [B, latent_channels, H/f, W/f]; log-variance clamped to [-30, 20] as diffusers does</returns>
    public (Tensor Mean, Tensor LogVar) Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = quant_conv.forward(encoder.forward(image));   // [B, 2·latent, h, w]
        var halves = moments.chunk(2, 1);                            // mean first, log-variance second
        var mean = halves[0].contiguous();
        var logvar = halves[1].clamp(-30.0, 20.0);
        return (mean.MoveToOuterDisposeScope(), logvar.MoveToOuterDisposeScope());
    }

    /// <summary>A draw from the encoded Gaussian: mean + exp(logvar/2)·ε.</summary>
    public static Tensor Sample(Tensor mean, Tensor logVar, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var eps = randn(mean.shape, dtype: mean.dtype, device: mean.device, generator: generator);
        return (mean + exp(0.5 * logVar) * eps).MoveToOuterDisposeScope();
    }

    /// <param name="latent">[B, latent_channels, h, w] (already divided by the scaling factor)</param>
    /// <returns>[B, out_channels, h·f, w·f], roughly in [-1, 1]</returns>
    public Tensor Decode(Tensor latent)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(post_quant_conv.forward(latent)).MoveToOuterDisposeScope();
    }

    /// <summary>Reconstruction through the posterior mean: Decode(Encode(image).Mean).</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var (mean, _) = Encode(image);
        return Decode(mean).MoveToOuterDisposeScope();
    }
}
