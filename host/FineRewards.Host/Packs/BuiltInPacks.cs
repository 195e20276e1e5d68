using FineRewards.Core.Packs;

namespace FineRewards.Host.Packs;

/// <summary>
/// The packs this build of `finerewards` can run: the built-in Shapes pack by name, and pack folders of
/// the Shapes family and of Stable Diffusion checkpoints (`pack create sd`). Every command and `serve`
/// get their packs here; other names fail with an error that names the pack and what is registered.
/// </summary>
public static class BuiltInPacks
{
    public static PackRegistry Registry() => new PackRegistry()
        .Register(ShapesPack.ShapesPackInfo.Name, ShapesModelPack.Locate)
        .RegisterFolders("shapes", ShapesModelPack.Open)
        .RegisterFolders("stable-diffusion", SdModelPack.Open);
}
