using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.IO;
using FineRewards.Contracts.IO;
using FineRewards.Server.Jobs;
using FineRewards.Server.Storage;
using Microsoft.Extensions.Logging;

namespace FineRewards.Server.Feedback;

/// <summary>What a user did with a candidate, as a client sends it.</summary>
/// <param name="Kind">Null when the client sent none; an unknown wire value is refused while mapping (see ProtoMapping).</param>
public sealed record FeedbackSubmission(string FeedbackId, string UserId, string ProfileId, FeedbackKind? Kind, string Prompt,
    string ImageId, string JobId, int CandidateIndex);

/// <summary>
/// Training data from users: checked (the image must be on the host), then committed to SQLite
/// before the call returns, so acknowledged feedback survives a crash. Idempotent by id.
/// </summary>
public sealed class FeedbackStore(HostDatabase db, ImageStore images, HostLimits limits, ILogger<FeedbackStore> logger)
{
    public const int MaxIdLength = 200;

    public (FeedbackRecord Record, bool Existing) Submit(FeedbackSubmission s)
    {
        var record = Check(s, images, limits);
        if (record.JobId is { } jobId) CheckCandidate(jobId, record.CandidateIndex!.Value, db.LoadJob(jobId)?.Spec.K);
        var (stored, existing) = db.InsertFeedback(record);
        return Accepted(record, stored, existing, logger);
    }

    /// <summary>
    /// The submission as a record, every field checked (the image must be in <paramref name="images"/>) except that
    /// its job exists: the caller asks its own jobs (<see cref="CheckCandidate"/>).
    /// </summary>
    public static FeedbackRecord Check(FeedbackSubmission s, ImageStore images, HostLimits limits)
    {
        string id = SubmissionValidator.NormalizeJobId(s.FeedbackId, "feedback_id");
        string user = RequireId(s.UserId, "user_id");
        string profile = RequireId(s.ProfileId, "profile_id");
        var kind = s.Kind ?? throw new InputException("kind", "missing; accepted, rejected or edited");
        string prompt = s.Prompt.Trim();
        if (prompt.Length == 0) throw new InputException("prompt", "empty; feedback is learned for the prompt it answers");
        if (prompt.Length > limits.MaxPromptLength) throw new InputException("prompt", $"{prompt.Length} characters exceeds the host's limit of {limits.MaxPromptLength}");
        ImageStore.RequireValidId(s.ImageId, "image_id");
        if (!images.Has(s.ImageId)) throw new HostException(RefusalKind.NotFound, "image_id", $"the host has no image {s.ImageId}; upload it with PutImage first");
        if (kind is FeedbackKind.Accepted or FeedbackKind.Edited) RequireTrainable(images, limits, s.ImageId);
        string? jobId = s.JobId.Length == 0 ? null : SubmissionValidator.NormalizeJobId(s.JobId);
        if (s.CandidateIndex < 0) throw new InputException("candidate_index", $"{s.CandidateIndex} is negative");
        return new FeedbackRecord(id, user, profile, kind, prompt, s.ImageId, jobId, jobId is null ? null : s.CandidateIndex, DateTimeOffset.UtcNow);
    }

    /// <summary>Feedback names what it answers: a job of this host and one of its candidates (<paramref name="k"/>: the job's K, null when there is no such job).</summary>
    public static void CheckCandidate(string jobId, int candidateIndex, int? k)
    {
        if (k is not int candidates)
            throw new HostException(RefusalKind.NotFound, "job_id", $"the host has no job {jobId}; leave job_id empty for an image from elsewhere");
        if (candidateIndex >= candidates)
            throw new InputException("candidate_index", $"{candidateIndex} is not a candidate of job {jobId}, which has {candidates} (0 to {candidates - 1})");
    }

    /// <summary>What storing <paramref name="record"/> gave: the stored one, refused when its id was taken by other content.</summary>
    public static (FeedbackRecord Record, bool Existing) Accepted(FeedbackRecord record, FeedbackRecord stored, bool existing, ILogger logger)
    {
        if (existing && stored with { Time = record.Time } != record)
            throw new HostException(RefusalKind.AlreadyExists, "feedback_id", $"feedback {record.Id} was stored with different content; choose a new UUID");
        using var _ = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = record.JobId ?? "-" });
        logger.LogInformation("feedback {Id}: {Kind} image {Image} for profile {Profile}{Existing}", record.Id, record.Kind, record.ImageId, record.ProfileId, existing ? " (again)" : "");
        return (stored, existing);
    }

    /// <summary>Training decodes the image: one stored before the host had its pixel limit is refused here, not mid-training.</summary>
    static void RequireTrainable(ImageStore images, HostLimits limits, string imageId)
    {
        using var png = images.Open(imageId)!;
        var header = new byte[PngCodec.SizeHeaderBytes];
        png.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        var (width, height) = PngCodec.ReadSize(header, "image_id");
        if ((long)width * height > limits.MaxImagePixels)
            throw new HostException(RefusalKind.ResourceExhausted, "image_id", $"image of {width}x{height} pixels exceeds the host's limit of {limits.MaxImagePixels} pixels");
    }

    public IReadOnlyList<FeedbackRecord> List(string profileId) => db.FeedbackOf(ProfileId(profileId));

    /// <summary>A profile id as a list names it, checked.</summary>
    public static string ProfileId(string value) => RequireId(value, "profile_id");

    static string RequireId(string value, string field)
    {
        string v = value.Trim();
        if (v.Length == 0) throw new InputException(field, "empty");
        if (v.Length > MaxIdLength) throw new InputException(field, $"{v.Length} characters; at most {MaxIdLength}");
        return v;
    }
}
