using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FineRewards.Diffusion.Nn;

/// <summary>Normalisation layers built the one safe way.</summary>
public static class Norms
{
    /// <summary>
    /// TorchSharp 0.107.0's nn.GroupNorm leaves its affine weight and bias uninitialised (the
    /// outputs are then NaN or garbage); every GroupNorm in the project is made here, with the
    /// PyTorch defaults weight = 1 and bias = 0.
    /// </summary>
    public static GroupNorm GroupNorm(long numGroups, long numChannels, double eps = 1e-5, bool affine = true)
    {
        var norm = nn.GroupNorm(numGroups, numChannels, eps, affine);
        if (affine)
        {
            using var _ = no_grad();
            norm.weight!.fill_(1.0f);
            norm.bias!.fill_(0.0f);
        }
        return norm;
    }
}
