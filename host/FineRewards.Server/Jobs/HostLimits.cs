namespace FineRewards.Server.Jobs;

/// <summary>What one request may ask of the host. Each is checked before a job is queued.</summary>
public sealed record HostLimits(
    int MaxK = 16,
    int MaxWidth = 1024,
    int MaxHeight = 1024,
    int MaxSteps = 150,
    int MaxPromptLength = 2000,
    int MaxQueuedJobs = 32,
    long MaxUploadBytes = 32L << 20,
    int MaxMessageBytes = 1 << 20);
