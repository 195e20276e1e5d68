using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Diffusion.Models;

/// <summary>
/// Finds a component's files in a diffusers model folder (e.g. <c>stable-diffusion-v1-5/unet</c>):
/// <c>config.json</c> and the weights, full precision preferred over the <c>.fp16</c> variant
/// (both load into float32 models).
/// </summary>
public static class DiffusersFolder
{
    public static readonly IReadOnlyList<string> WeightNames =
        ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"];

    public static (string ConfigPath, string WeightsPath) Resolve(string folder)
    {
        if (!Directory.Exists(folder)) throw new InputException(folder, "model folder does not exist");
        var config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) throw new InputException(folder, "has no config.json (expected a diffusers component folder such as .../unet)");
        var weights = WeightNames.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists)
            ?? throw new InputException(folder, $"has no weights ({string.Join(" or ", WeightNames)}); .bin checkpoints are not supported, convert them to safetensors");
        return (config, weights);
    }
}
