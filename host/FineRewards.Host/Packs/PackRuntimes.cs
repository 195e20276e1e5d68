using FineRewards.Core.Training;

namespace FineRewards.Host.Packs;

/// <summary>
/// The pack runtimes this build of `finerewards` can run (train, eval). A pack is usable here only
/// once its engine (generator, LoRA trainer, rewards) registers below; other names fail with
/// an error that names the pack and what it lacks.
/// </summary>
public static class PackRuntimes
{
    public static PackRuntimeRegistry Default()
    {
        var registry = new PackRuntimeRegistry();
        registry.Register(ShapesPack.ShapesPackInfo.Name, ShapesPackRuntime.Locate);
        return registry;
    }
}
