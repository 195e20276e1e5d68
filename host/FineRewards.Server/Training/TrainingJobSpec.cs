using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FineRewards.Core;
using FineRewards.Contracts;
using FineRewards.Core.Ranking;
using FineRewards.Core.Training;
using FineRewards.Server.Jobs;
using FineRewards.Server.Models;

namespace FineRewards.Server.Training;

/// <summary>A StartTrainingRound request as the client sent it: zero or empty means "the default".</summary>
public sealed record TrainingSubmission(
    string TrainingId, string ClientId, string ProfileId, string Pack, int Rounds, int K, IReadOnlyList<string> Rewards,
    CombineKind? Combine, string SingleReward, int StepsPerRound, int StepsPerImage, double LearningRate, int LoraRank,
    bool IncludeGenerated, IReadOnlyList<string> Prompts, double FilterTop, long Seed, double? PromptDropout = null, string LrSchedule = "",
    string Objective = "", double DpoBeta = 0);

/// <summary>A training job with its defaults filled in; stored as JSON, hashed to tell a retry from a clash.</summary>
/// <param name="FeedbackIds">The profile's accepted and edited feedback when the job was started: the job trains on
/// exactly these, so a job resumed after a restart sees the same data. Not part of <see cref="Hash"/>, so a retried
/// start still matches after more feedback came in.</param>
public sealed record TrainingJobSpec(
    string ProfileId, string Pack, int Rounds, int K, IReadOnlyList<string> Rewards, string Combine, int? StepsPerRound, int? StepsPerImage,
    double LearningRate, int LoraRank, bool IncludeGenerated, IReadOnlyList<string> Prompts, double FilterTop, long Seed,
    IReadOnlyList<string>? FeedbackIds = null, double PromptDropout = TrainingRunOptions.DefaultPromptDropout, string LrSchedule = TrainingRunOptions.DefaultLrSchedule,
    string Objective = TrainingJobSpec.DefaultObjective, double DpoBeta = TrainingRunOptions.DefaultDpoBeta)
{
    /// <summary>The host's objective when a request names none (docs/training.md says why).</summary>
    public const string DefaultObjective = LoraObjectives.Raft;

    public const int MaxRounds = 20;
    public const int MaxPrompts = 1000;

    public string ToJson() => JsonSerializer.Serialize(this);
    public static TrainingJobSpec FromJson(string json) => JsonSerializer.Deserialize<TrainingJobSpec>(json) ?? throw new InvalidDataException("training spec JSON is null");
    public string Hash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes((this with { FeedbackIds = null }).ToJson())));

    /// <summary>The spec fixed to the profile's feedback of now (<see cref="FeedbackIds"/>): its accepted and edited images, and
    /// for dpo only those with a rejected candidate of the same job, and those rejected candidates.</summary>
    /// <exception cref="HostException">Nothing to train on: no such feedback, and no prompts to generate for.</exception>
    public TrainingJobSpec WithFeedback(IReadOnlyList<Storage.FeedbackRecord> profileFeedback)
    {
        bool generates = IncludeGenerated && Prompts.Count > 0;
        if (Objective == LoraObjectives.Dpo)
        {
            var preferences = TrainingRunner.PreferenceFeedback(profileFeedback);
            if (preferences.Count == 0 && !generates)
                throw new HostException(RefusalKind.FailedPrecondition, "profile_id",
                    $"profile \"{ProfileId}\" has no accepted or edited image with a rejected candidate of the same job, which dpo learns from; "
                    + "send SubmitFeedback with FEEDBACK_KIND_REJECTED for the candidates turned down, use objective raft, or use include_generated with prompts");
            return this with { FeedbackIds = preferences.SelectMany(p => new[] { p.Kept.Id, p.Rejected.Id }).Distinct().ToList() };
        }
        var accepted = TrainingRunner.TrainingFeedback(profileFeedback);
        if (accepted.Count == 0 && !generates)
            throw new HostException(RefusalKind.FailedPrecondition, "profile_id",
                $"profile \"{ProfileId}\" has no accepted or edited images to train on; send SubmitFeedback first, or use include_generated with prompts");
        return this with { FeedbackIds = accepted.Select(f => f.Id).ToList() };
    }

    /// <summary>Checks a submission against the host's limits and models; every problem names its request field.</summary>
    public static (string Id, string ClientId, TrainingJobSpec Spec) Validate(TrainingSubmission s, HostLimits limits, ModelCatalog catalog)
    {
        string id = SubmissionValidator.NormalizeJobId(s.TrainingId, "training_id");
        string client = string.IsNullOrWhiteSpace(s.ClientId) ? "anonymous" : s.ClientId.Trim();
        if (client.Length > SubmissionValidator.MaxClientIdLength) throw new InputException("client_id", $"{client.Length} characters; at most {SubmissionValidator.MaxClientIdLength}");
        string profile = s.ProfileId.Trim();
        if (profile.Length == 0) throw new InputException("profile_id", "empty; training learns one profile's accepted images");
        if (profile.Length > Feedback.FeedbackStore.MaxIdLength) throw new InputException("profile_id", $"{profile.Length} characters; at most {Feedback.FeedbackStore.MaxIdLength}");
        string pack = string.IsNullOrWhiteSpace(s.Pack) ? catalog.DefaultPack : s.Pack.Trim();
        if (catalog.Availability(pack) is null) throw new InputException("options.pack", $"no pack named \"{pack}\"; packs: {string.Join(", ", catalog.Packs().Select(p => p.Name))}");

        int rounds = s.Rounds == 0 ? 1 : s.Rounds;
        if (!s.IncludeGenerated && rounds != 1) throw new InputException("options.rounds", $"{s.Rounds} rounds need include_generated; training on feedback alone is one round");
        if (rounds is < 1 or > MaxRounds) throw new InputException("options.rounds", $"{s.Rounds}; expected 1 to {MaxRounds}");
        int k = s.K == 0 ? 4 : s.K;
        if (k < 1 || k > limits.MaxK) throw new InputException("options.k", $"{s.K}; expected 1 to the host's limit of {limits.MaxK}");
        var known = catalog.Capabilities(pack).Rewards!;
        var rewards = s.Rewards.Count == 0 ? known : s.Rewards.Select(r => r.Trim()).ToList();
        for (int i = 0; i < rewards.Count; i++)
            if (!known.Contains(rewards[i]))
                throw new InputException($"options.rewards[{i}]", $"no reward \"{rewards[i]}\" for pack \"{pack}\"; it has: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
        if (rewards.Distinct().Count() != rewards.Count) throw new InputException("options.rewards", "a reward is named twice");
        string combine = (s.Combine ?? CombineKind.Arl) switch
        {
            CombineKind.Arl => "arl",
            CombineKind.Sum => "sum",
            CombineKind.Normalized => "normalized",
            CombineKind.Single when rewards.Contains(s.SingleReward) => $"single:{s.SingleReward}",
            CombineKind.Single => throw new InputException("options.single_reward", $"\"{s.SingleReward}\" is not one of the rewards ({string.Join(", ", rewards)})"),
            _ => throw new InputException("options.combine_method", "unknown value"),
        };
        if (s.IncludeGenerated && rewards.Count == 0) throw new InputException("options.rewards", $"pack \"{pack}\" has no rewards to rank generated images with");
        if (s.StepsPerRound < 0) throw new InputException("options.steps_per_round", $"{s.StepsPerRound} is negative");
        if (s.StepsPerImage < 0) throw new InputException("options.steps_per_image", $"{s.StepsPerImage} is negative");
        if (s.StepsPerRound > 0 && s.StepsPerImage > 0) throw new InputException("options.steps_per_round", "give steps_per_round or steps_per_image, not both");
        int? perRound = s.StepsPerRound > 0 ? s.StepsPerRound : null;
        int? perImage = s.StepsPerImage > 0 ? s.StepsPerImage : perRound is null ? TrainingRunOptions.DefaultStepsPerImage : null;
        if (perRound > 100_000 || perImage > 10_000) throw new InputException(perRound is null ? "options.steps_per_image" : "options.steps_per_round", "too many steps for one job");
        double lr = s.LearningRate == 0 ? TrainingRunOptions.DefaultLearningRate : s.LearningRate;
        if (!double.IsFinite(lr) || lr <= 0 || lr > 1) throw new InputException("options.learning_rate", $"{s.LearningRate}; expected a number in (0, 1]");
        int rank = s.LoraRank == 0 ? TrainingRunOptions.DefaultLoraRank : s.LoraRank;
        if (rank is < 1 or > 256) throw new InputException("options.lora_rank", $"{s.LoraRank}; expected 1 to 256");
        double filter = s.FilterTop == 0 ? 1 : s.FilterTop;
        if (!(filter > 0 && filter <= 1)) throw new InputException("options.filter_top", $"{s.FilterTop}; expected a fraction in (0, 1]");
        var prompts = s.Prompts.Select(p => p.Trim()).ToList();
        if (!s.IncludeGenerated && prompts.Count > 0) throw new InputException("options.prompts", "prompts are generated for only with include_generated");
        if (prompts.Count > MaxPrompts) throw new InputException("options.prompts", $"{prompts.Count} prompts; at most {MaxPrompts}");
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new InputException($"options.prompts[{i}]", "empty");
            if (prompts[i].Length > Math.Min(limits.MaxPromptLength, PromptsFile.MaxPromptLength)) throw new InputException($"options.prompts[{i}]", $"{prompts[i].Length} characters is too long");
            if (prompts[i].Any(char.IsControl)) throw new InputException($"options.prompts[{i}]", "contains a control character");
        }
        double dropout = s.PromptDropout ?? TrainingRunOptions.DefaultPromptDropout;
        if (!(dropout >= 0 && dropout < 1)) throw new InputException("options.prompt_dropout", $"{s.PromptDropout}; expected a fraction in [0, 1)");
        string schedule = string.IsNullOrWhiteSpace(s.LrSchedule) ? TrainingRunOptions.DefaultLrSchedule : s.LrSchedule.Trim();
        if (!LoraTrainingOptions.Schedules.Contains(schedule))
            throw new InputException("options.lr_schedule", $"\"{s.LrSchedule}\"; expected one of {string.Join(", ", LoraTrainingOptions.Schedules)}");
        string objective = string.IsNullOrWhiteSpace(s.Objective) ? DefaultObjective : s.Objective.Trim();
        if (!LoraObjectives.All.Contains(objective))
            throw new InputException("options.objective", $"\"{s.Objective}\"; expected one of {string.Join(", ", LoraObjectives.All)}");
        double beta = s.DpoBeta == 0 ? TrainingRunOptions.DefaultDpoBeta : s.DpoBeta;
        if (!(double.IsFinite(beta) && beta > 0)) throw new InputException("options.dpo_beta", $"{s.DpoBeta}; expected a positive number");
        if (objective != LoraObjectives.Dpo && s.DpoBeta != 0) throw new InputException("options.dpo_beta", "only with objective dpo");
        return (id, client, new TrainingJobSpec(profile, pack, rounds, k, rewards, combine, perRound, perImage, lr, rank,
            s.IncludeGenerated, prompts, filter, s.Seed, PromptDropout: dropout, LrSchedule: schedule, Objective: objective, DpoBeta: beta));
    }
}
