using FineRewards.Contracts;

namespace FineRewards.ShapesPack.Training;

/// <summary>Every component trainer of the Shapes pack, in the order `pack train shapes` runs them.</summary>
public static class ShapesPackTrainers
{
    public static IReadOnlyList<IPackComponentTrainer> All { get; } =
    [
        new Diffusion.VaeTrainer(),
        new Diffusion.VaeDecoderTrainer(),
        new Diffusion.DiffusionTrainer(),
        new Captioner.CaptionerTrainer(),
        new Segmenter.SegmenterTrainer(),
        new Contrastive.ContrastiveTrainer(),
    ];

    public static IPackComponentTrainer Find(string component) =>
        All.FirstOrDefault(t => t.Component == component)
        ?? throw new Contracts.InputException("--component", $"unknown component \"{component}\"; expected one of: {string.Join(", ", All.Select(t => t.Component))}");
}
