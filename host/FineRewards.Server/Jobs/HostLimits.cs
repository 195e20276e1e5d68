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
    int MaxMessageBytes = 1 << 20,
    // 16.8 Mpx: a 4096x4096 canvas. A small PNG can declare a huge image (16000x16000 in 249 KB decodes to ~1 GB).
    long MaxImagePixels = 4096L * 4096);
