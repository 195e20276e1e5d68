using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>diffusers' VAE <c>Encoder</c>: image -> 2·latent_channels moments (mean and log-variance, "double_z").</summary>
public sealed class Encoder : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly ModuleList<DownEncoderBlock2D> down_blocks;
    private readonly UNetMidBlock2D mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;

    public Encoder(AutoencoderKLConfig config) : base(nameof(Encoder))
    {
        var channels = config.BlockOutChannels;
        int n = channels.Length;
        long groups = config.NormNumGroups;
        conv_in = nn.Conv2d(config.InChannels, channels[0], 3, stride: 1, padding: 1);
        down_blocks = new ModuleList<DownEncoderBlock2D>();
        long outputChannel = channels[0];
        for (int i = 0; i < n; i++)
        {
            long inputChannel = outputChannel;
            outputChannel = channels[i];
            down_blocks.Add(new DownEncoderBlock2D(inputChannel, outputChannel, config.LayersPerBlock, addDownsample: i < n - 1, groups));
        }
        mid_block = new UNetMidBlock2D(channels[n - 1], groups);
        conv_norm_out = Norms.GroupNorm(groups, channels[n - 1], eps: 1e-6);
        conv_out = nn.Conv2d(channels[n - 1], 2 * config.LatentChannels, 3, stride: 1, padding: 1);
        RegisterComponents();
    }

    /// <param name="image">[B, in_channels, H, W] in [-1, 1]</param>
    /// <returns>[B, 2·latent_channels, H/f, W/f] (f = 2^(blocks-1))</returns>
    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(image);                              // [B, C0, H, W]
        foreach (var block in down_blocks) h = block.forward(h);     // [B, Clast, H/f, W/f]
        h = mid_block.forward(h);
        h = conv_out.forward(F.silu(conv_norm_out.forward(h)));      // [B, 2·latent, H/f, W/f]
        return h.MoveToOuterDisposeScope();
    }
}
