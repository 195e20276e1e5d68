using FineRewards.Core.Training;

namespace FineRewards.Host.Packs;

/// <summary>
/// The pack runtimes this build of `finerewards` can run (train, eval). A pack is usable here only
/// once its engine (generator, LoRA trainer, rewards) registers below; until then the commands
/// fail with an error that names the pack and what it lacks.
/// </summary>
public static class PackRuntimes
{
    public static PackRuntimeRegistry Default()
    {
        var registry = new PackRuntimeRegistry();
        // The built-in Shapes pack registers here once its engine ships:
        // registry.Register("shapes", () => ShapesPackRuntime.Load(PackLocator.Default()));
        return registry;
    }
}
