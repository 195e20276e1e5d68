using System.Collections.Immutable;
using FineRewards.Contracts;
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
/// <param name="Packs">Every pack the host lists with what it accepts; empty from a host that lists none.</param>
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
    public IReadOnlyList<PackView> Packs { get; init; } = [];

    /// <summary>The named pack (empty: the default); a pack the host lists nothing for gets the host's rewards (all but random ticked) and no sampler list.</summary>
    public PackView Pack(string name)
    {
        string wanted = name.Length == 0 ? DefaultPack : name;
        return Packs.FirstOrDefault(p => p.Name == wanted)
            ?? new PackView(wanted, ReadyPacks.Contains(wanted), Rewards, PackView.AssumedDefaults(Rewards), []);
    }
}

/// <summary>A pack as the host lists it: whether it is ready, the rewards that can score it, those a job uses unless told, its samplers.</summary>
public sealed record PackView(string Name, bool Ready, IReadOnlyList<string> Rewards, IReadOnlyList<string> DefaultRewards, IReadOnlyList<string> Samplers)
{
    /// <summary>"ready", "loading", "missing" or "failed", as the host says.</summary>
    public string State { get; init; } = Ready ? "ready" : "missing";
    /// <summary>What the host found wrong, each with the path it looked at.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];
    /// <summary>The host's advice for <see cref="Problems"/>.</summary>
    public string Fix { get; init; } = "";

    /// <summary>For a host that declares no default set: what newer hosts default to, every reward but the random baseline.</summary>
    public static IReadOnlyList<string> AssumedDefaults(IReadOnlyList<string> rewards) => rewards.Where(r => r != "random").ToList();
}

/// <summary>The host's answer to CheckPrompt for one pack and prompt.</summary>
/// <param name="Message">Why the pack refuses it (naming the field), empty when ok.</param>
/// <param name="Fix">What to do about it (e.g. an example prompt the pack accepts).</param>
public sealed record PromptCheck(string Pack, string Prompt, bool Ok, string Message, string Fix);

/// <summary>How candidates are combined into one order (docs/ranking.md).</summary>
public enum CombineChoice { Arl, Sum, Normalized, Single }

/// <summary>Everything a generation request says; kept in history so a job can be repeated.</summary>
public sealed record JobParameters(
    string Prompt,
    string NegativePrompt = "",
    int K = 4,
    SeedPolicy SeedPolicy = SeedPolicy.Random,
    long BaseSeed = 0,
    string Sampler = GenerationDefaults.Sampler,
    int Steps = GenerationDefaults.Steps,
    double Guidance = GenerationDefaults.Guidance,
    int Width = GenerationDefaults.Size,
    int Height = GenerationDefaults.Size,
    IReadOnlyList<string>? Rewards = null,
    CombineChoice Combine = CombineChoice.Arl,
    string SingleReward = "",
    IReadOnlyList<LoraReference>? Loras = null,
    string Pack = "");

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
    int Resumes = 0,
    LoraCheckView? Check = null)
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

/// <summary>A LoRA in the host's registry (ListLoras). <see cref="LoraId"/> is what generation requests name.</summary>
/// <param name="Metrics">E.g. "pairs", "steps", "final_loss", "reward_mean.caption".</param>
public sealed record LoraView(
    string LoraId,
    string ProfileId,
    string TrainingId,
    string Path,
    string Sha256,
    DateTimeOffset Created,
    bool Active,
    IReadOnlyDictionary<string, double> Metrics,
    LoraCheckView? Check = null);

/// <summary>The host's check of a new LoRA against the base model (LoraEvaluation): per reward the mean of both, and
/// whether the host made it active on its own (only when it raised the rewards).</summary>
/// <param name="Verdict">"raised", "unchanged" or "lowered".</param>
public sealed record LoraCheckView(IReadOnlyList<(string Reward, double Base, double New)> Rewards, string Verdict, int Prompts, int ProbePrompts, int Images, bool Activated);

/// <summary>What a training round is asked to do (StartTrainingRound's options; zero means the host's default).</summary>
/// <param name="IncludeGenerated">Also generate best-of-K images for the feedback's prompts, rank them and train on the best.</param>
/// <param name="Objective">"raft", "dpo" (each accepted image preferred to the candidates rejected from its job), or empty: the host's default.</param>
public sealed record TrainingParameters(
    string Profile,
    bool IncludeGenerated = false,
    int Rounds = 0,
    int K = 0,
    int StepsPerImage = 0,
    int StepsPerRound = 0,
    long Seed = 0,
    IReadOnlyList<string>? Rewards = null,
    string Objective = "");

public enum TrainingJobPhase { Submitting, Queued, Running, Completed, Failed, Cancelled }

/// <summary>
/// One optimiser step's loss, as the host reported it (at most a few a second, always a phase's
/// first and last). <see cref="Index"/> is the step counted on across rounds (1-based; the curve's x).
/// </summary>
public readonly record struct LossPoint(int Index, int Round, int Step, int Steps, double Loss);

/// <summary>A finished round (TrainingRoundFinished): mean reward of all candidates and of the kept ones, per reward.</summary>
public sealed record TrainingRoundView(int Round, int Kept, int Prompts, int TrainingPairs, int TrainingSteps, double FinalLoss,
    IReadOnlyDictionary<string, double> RewardMean, IReadOnlyDictionary<string, double> SelectedMean);

/// <summary>A training job as far as its events have told (WatchTraining).</summary>
/// <param name="Phase">Which step of the round runs: "generate", "score", "select", "train", "preview".</param>
public sealed record TrainingView(
    string TrainingId,
    TrainingParameters Parameters,
    TrainingJobPhase State,
    long LastSequence = 0,
    int? QueuePosition = null,
    int FeedbackPairs = 0,
    int Prompts = 0,
    int Rounds = 0,
    int Round = 0,
    string? Phase = null,
    int Done = 0,
    int Total = 0,
    double? EtaSeconds = null,
    ImmutableList<LossPoint>? Losses = null,
    ImmutableList<TrainingRoundView>? FinishedRounds = null,
    string? LoraId = null,
    string? LoraPath = null,
    string? Error = null,
    string? SuggestedFix = null,
    string? StreamProblem = null,
    int Resumes = 0,
    LoraCheckView? Check = null)
{
    public bool Finished => State is TrainingJobPhase.Completed or TrainingJobPhase.Failed or TrainingJobPhase.Cancelled;
    public ImmutableList<LossPoint> LossCurve => Losses ?? [];
    public ImmutableList<TrainingRoundView> RoundCurve => FinishedRounds ?? [];
    /// <summary>Optimiser steps so far: each round's latest reported step.</summary>
    public int StepsDone => LossCurve.Count == 0 ? 0 : LossCurve[^1].Index;
}

/// <summary>Everything the UI draws from the client, at one moment.</summary>
public sealed record ClientSnapshot(
    long Version,
    ConnectionStatus Connection,
    ImmutableDictionary<string, JobView> Jobs,
    ImmutableList<FeedbackView> Feedback)
{
    /// <summary>Training jobs started or followed by this client, by training id.</summary>
    public ImmutableDictionary<string, TrainingView> Trainings { get; init; } = ImmutableDictionary<string, TrainingView>.Empty;
    /// <summary>The host's LoRAs, newest first (every profile's); refreshed with the connection poll and after training, activate, delete.</summary>
    public ImmutableList<LoraView> Loras { get; init; } = [];
    /// <summary>Why the LoRA list could not be read (an older host without TrainingService, a failed call); null when it could.</summary>
    public string? LorasProblem { get; init; }
    /// <summary>The outcome of the last activate or delete: "activated …", or why it failed.</summary>
    public string? LoraNotice { get; init; }
    /// <summary>The host's answer for the last prompt asked about (<see cref="IHostClient.CheckPrompt"/>); null before any.</summary>
    public PromptCheck? PromptCheck { get; init; }

    public static ClientSnapshot Initial(string address) =>
        new(0, ConnectionStatus.Connecting(address), ImmutableDictionary<string, JobView>.Empty, ImmutableList<FeedbackView>.Empty);
}
