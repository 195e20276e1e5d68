using FineRewards.Contracts;

namespace FineRewards.Server.Jobs;

/// <summary>Why the host refuses a request, apart from invalid fields (those are <see cref="FineRewards.Contracts.InputException"/>).</summary>
public enum RefusalKind
{
    /// <summary>The job, image or feedback named does not exist.</summary>
    NotFound,
    /// <summary>The id is taken by something different.</summary>
    AlreadyExists,
    /// <summary>A queue or size limit: retry later or send less.</summary>
    ResourceExhausted,
    /// <summary>The request is valid but the host cannot serve it now (a pack is missing).</summary>
    FailedPrecondition,
    /// <summary>This host does not offer the call in its set-up (e.g. a cluster): UNIMPLEMENTED.</summary>
    NotSupported,
}

/// <summary>A refused request; <see cref="Field"/> names the field it is about.</summary>
public sealed class HostException(RefusalKind kind, string field, string message) : Exception($"{field}: {message}")
{
    public RefusalKind Kind { get; } = kind;
    public string Field { get; } = field;
    /// <summary>The message without the field in front (<see cref="Exception.Message"/> is "field: reason").</summary>
    public string Reason { get; } = message;
}
