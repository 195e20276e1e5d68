using FineRewards.Core.Contracts;
using FineRewards.Core.Packs;

namespace FineRewards.Server.Models;

/// <summary>
/// A model pack the host can serve: its files are checked first (cheap, no model loaded), then an
/// engine loads it into a generator. The engines (Shapes, Stable Diffusion) implement this.
/// </summary>
public interface IModelPack
{
    string Name { get; }
    /// <summary>Where the pack is and which of its files are missing or damaged.</summary>
    PackStatus Check();
    /// <summary>Loads the models; called once, only when <see cref="Check"/> found no problem.</summary>
    IImageGenerator Load(CancellationToken cancellationToken);
    /// <summary>Its rewards, default rewards, samplers and prompt check.</summary>
    PackCapabilities Capabilities => PackCapabilities.Unrestricted;
}

/// <summary>
/// A pack found by <see cref="PackLocator"/> (pack.json and its files), loaded by an engine when
/// this build has one for it. Without an engine the pack reports that, never a stand-in model.
/// </summary>
public sealed class LocatedPack(PackLocator locator, string name, Func<PackStatus, IImageGenerator>? engine, PackCapabilities? capabilities = null) : IModelPack
{
    public string Name => name;
    public PackCapabilities Capabilities => capabilities ?? PackCapabilities.Unrestricted;

    public PackStatus Check()
    {
        var status = locator.Find(name);
        if (engine is not null) return status;
        return status with { Problems = [.. status.Problems, $"this build of the host has no engine for pack \"{name}\""] };
    }

    public IImageGenerator Load(CancellationToken cancellationToken)
    {
        if (engine is null) throw new InvalidOperationException($"no engine for pack \"{name}\"");
        return engine(locator.Find(name));
    }
}
