namespace FineRewards.Server.Models;

public enum DeviceKind { Cpu, Gpu }

/// <summary>The device the models run on, as the engine that owns it reports it.</summary>
/// <param name="MemoryBytes">Memory available to models; 0 when unknown.</param>
public sealed record DeviceInfo(DeviceKind Kind, string Name, long MemoryBytes)
{
    /// <summary>This process's CPU and the memory the runtime may use.</summary>
    public static DeviceInfo Cpu() =>
        new(DeviceKind.Cpu, $"CPU ({Environment.ProcessorCount} threads)", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
}
