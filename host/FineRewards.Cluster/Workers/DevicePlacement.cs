using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace FineRewards.Cluster.Workers;

/// <summary>
/// A worker grain lives on the silo that owns its device: the silo is part of the worker's key
/// (<see cref="WorkerKey"/>). When that silo is gone the worker cannot be activated anywhere
/// else; a call to it fails, which is how the scheduler learns a device left.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class DeviceSiloPlacement : PlacementStrategy
{
    public static readonly DeviceSiloPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class DeviceSiloPlacementAttribute() : PlacementAttribute(DeviceSiloPlacement.Instance);

public sealed class DeviceSiloPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = WorkerKey.Parse(target.GrainIdentity.Key.ToString()!);
        if (!context.GetCompatibleSilos(target).Contains(key.Silo))
            throw new SiloUnavailableException($"worker {key}: its silo {key.Silo} is not an active member of the cluster");
        return Task.FromResult(key.Silo);
    }
}

/// <summary>A worker's id: the silo that owns the device, and the device's name on it.</summary>
public readonly record struct WorkerKey(SiloAddress Silo, string Device)
{
    public override string ToString() => $"{Silo.ToParsableString()}/{Device}";

    public static WorkerKey Parse(string key)
    {
        int slash = key.LastIndexOf('/');
        if (slash <= 0 || slash == key.Length - 1) throw new FormatException($"worker key '{key}': expected SILO/DEVICE");
        return new WorkerKey(SiloAddress.FromParsableString(key[..slash]), key[(slash + 1)..]);
    }
}
