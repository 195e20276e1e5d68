using FineRewards.Core.Packs;
using FineRewards.ShapesPack;
using FineRewards.ShapesPack.Pack;

namespace FineRewards.Host.Packs;

/// <summary>
/// The packs this build of `finerewards` can run (the composition root: the one place that names the packs' types):
/// the built-in Shapes pack by name, and pack folders of the Shapes family and of Stable Diffusion checkpoints
/// (`pack create sd`) or ONNX reward models alone. Every command and `serve` get their packs here; other names fail
/// with an error that names the pack and what is registered.
/// </summary>
public static class BuiltInPacks
{
    public static PackRegistry Registry() => new PackRegistry()
        .Register(ShapesPackInfo.Name, ShapesModelPack.Locate)
        .RegisterFolders("shapes", ShapesModelPack.Open)
        // A Stable Diffusion pack without a GGUF judge judges segment labels with the Shapes world's lexical judge.
        .RegisterFolders("stable-diffusion", (folder, manifest) => SdModelPack.Open(folder, manifest, ShapesModelPack.LexicalJudge));
}
