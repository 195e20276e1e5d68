using FineRewards.Diffusion.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FineRewards.Diffusion.Models.Vae;

/// <summary>diffusers' VAE <c>Decoder</c>: latent -> image, mid block first, then the up blocks in reversed channel order.</summary>
public sealed class Decoder : nn.Module<Tensor, Tensor>
{
    // diffusers registers up_blocks before mid_block (it assigns the empty list first).
    private readonly Conv2d conv_in;
    private readonly ModuleList<UpDecoderBlock2D> up_blocks;
    private readonly UNetMidBlock2D mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;

    public Decoder(AutoencoderKLConfig config) : base(nameof(Decoder))
    {
        var channels = config.BlockOutChannels;
        int n = channels.Length;
        long groups = config.NormNumGroups;
        conv_in = nn.Conv2d(config.LatentChannels, channels[n - 1], 3, stride: 1, padding: 1);
        mid_block = new UNetMidBlock2D(channels[n - 1], groups);
        up_blocks = new ModuleList<UpDecoderBlock2D>();
        long outputChannel = channels[n - 1];
        for (int i = 0; i < n; i++)
        {
            long prevOutputChannel = outputChannel;
            outputChannel = channels[n - 1 - i];
            up_blocks.Add(new UpDecoderBlock2D(prevOutputChannel, outputChannel, config.LayersPerBlock + 1, addUpsample: i < n - 1, groups));
        }
        conv_norm_out = Norms.GroupNorm(groups, channels[0], eps: 1e-6);
        conv_out = nn.Conv2d(channels[0], config.OutChannels, 3, stride: 1, padding: 1);
        RegisterComponents();
    }

    /// <param name="z">[B, latent_channels, h, w]</param>
    /// <returns>[B, out_channels, h·f, w·f]</returns>
    public override Tensor forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(z);                                  // [B, Clast, h, w]
        h = mid_block.forward(h);
        foreach (var block in up_blocks) h = block.forward(h);       // [B, C0, h·f, w·f]
        h = conv_out.forward(F.silu(conv_norm_out.forward(h)));      // [B, out_channels, h·f, w·f]
        return h.MoveToOuterDisposeScope();
    }
}
