using System.Collections.Immutable;
using FineRewards.Core.Contracts;
using SkiaSharp;

namespace FineRewards.Plugin.Client;

// Immutable views of the host's state that the client hands the UI. The UI reads one snapshot per
// frame; the client's background tasks replace it, never change it.

public enum ConnectionState { Connecting, Ready, MissingModels, Unreachable }

/// <param name="Message">One line for the status bar.</param>
/// <param name="Problems">With <see cref="ConnectionState.MissingModels"/>: what is missing (each names the pack, file or reward).</param>
public sealed record ConnectionStatus(ConnectionState State, string Message, IReadOnlyList<string> Problems, HostInfo? Host)
{
    public static ConnectionStatus Connecting(string address) => new(ConnectionState.Connecting, $"connecting to {address}", [], null);
}

/// <summary>What the host offers (from GetCapabilities).</summary>
public sealed record HostInfo(
    string ProtocolVersion,
    string HostVersion,
    string Device,
    string DefaultPack,
    IReadOnlyList<string> ReadyPacks,
    IReadOnlyList<string> Rewards,
    int MaxK,
    int MaxSteps,
    int MaxWidth,
    int MaxHeight)
{
    /// <summary>LoRAs the host lists; the protocol has no LoRA listing yet, so this is always empty.</summary>
    public IReadOnlyList<string> Loras { get; init; } = [];
}

/// <summary>How candidates are combined into one order (docs/ranking.md).</summary>
public enum CombineChoice { Arl, Sum, Normalized, Single }

/// <summary>Everything a generation request says; kept in history so a job can be repeated.</summary>
public sealed record JobParameters(
    string Prompt,
    string NegativePrompt = "",
    int K = 4,
    SeedPolicy SeedPolicy = SeedPolicy.Random,
    long BaseSeed = 0,
    string Sampler = "ddim",
    int Steps = 25,
    double Guidance = 7.5,
    int Width = 64,
    int Height = 64,
    IReadOnlyList<string>? Rewards = null,
    CombineChoice Combine = CombineChoice.Arl,
    string SingleReward = "",
    IReadOnlyList<LoraReference>? Loras = null);

public enum JobPhase { Submitting, Queued, Running, Completed, Failed, Cancelled }

/// <summary>One reward's result for one candidate.</summary>
public sealed record RewardView(string Reward, double Score, double Rank, string? Caption, IReadOnlyList<JudgedSegment> Segments, IReadOnlyList<string> Flags);

/// <summary>A candidate as far as the job has got: generated, then scored.</summary>
/// <param name="Image">The full image once downloaded (null until then).</param>
/// <param name="Preview">The image to draw: the full image when there, else the event's thumbnail.</param>
public sealed record CandidateView(
    int Index,
    long Seed,
    string ImageId,
    SKImage? Preview,
    RgbImage? Image,
    IReadOnlyList<RewardView> Rewards,
    double? Total,
    string? ScoredImageId)
{
    public bool Scored => Total is not null;
}

public sealed record JobView(
    string JobId,
    JobParameters Parameters,
    JobPhase Phase,
    ImmutableArray<CandidateView?> Candidates,
    long LastSequence = 0,
    int? QueuePosition = null,
    long? BaseSeed = null,
    int Step = 0,
    int Steps = 0,
    IReadOnlyList<int>? Order = null,
    int? Selected = null,
    string? Method = null,
    string? Error = null,
    string? SuggestedFix = null,
    string? StreamProblem = null,
    int Resumes = 0)
{
    public bool Finished => Phase is JobPhase.Completed or JobPhase.Failed or JobPhase.Cancelled;
    public bool Ranked => Order is not null;
    public int Arrived => Candidates.Count(c => c is not null);

    /// <summary>Rank of a candidate (1 = best) once the job is ranked.</summary>
    public int? RankOf(int index)
    {
        if (Order is null) return null;
        for (int i = 0; i < Order.Count; i++) if (Order[i] == index) return i + 1;
        return null;
    }
}

public enum FeedbackChoice { Accepted, Rejected, Edited }

public enum FeedbackState { Sending, Stored, Failed }

public sealed record FeedbackView(string FeedbackId, string JobId, int CandidateIndex, FeedbackChoice Choice, FeedbackState State, string? Error = null);

/// <summary>Everything the UI draws from the client, at one moment.</summary>
public sealed record ClientSnapshot(
    long Version,
    ConnectionStatus Connection,
    ImmutableDictionary<string, JobView> Jobs,
    ImmutableList<FeedbackView> Feedback)
{
    public static ClientSnapshot Initial(string address) =>
        new(0, ConnectionStatus.Connecting(address), ImmutableDictionary<string, JobView>.Empty, ImmutableList<FeedbackView>.Empty);
}
