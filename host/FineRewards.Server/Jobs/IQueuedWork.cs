namespace FineRewards.Server.Jobs;

/// <summary>
/// Something that waits in the host's one queue for the device: a generation <see cref="Job"/> or
/// other work (a LoRA training job). One queue means a training job never runs beside a
/// generation job on the same device, and clients are served in turn across both.
/// </summary>
public interface IQueuedWork
{
    string Id { get; }
    string ClientId { get; }
    /// <summary>The last queue position announced, so positions are announced only when they change.</summary>
    int? AnnouncedPosition { get; set; }
}

/// <summary>Queued work other than a generation job: it announces its own position and runs itself.</summary>
public interface IExternalWork : IQueuedWork
{
    void AnnounceQueued(int position);
    /// <summary>Runs the work to its end (completed, failed or cancelled); <paramref name="stopping"/> is the host shutting down.</summary>
    Task RunAsync(CancellationToken stopping);
}
