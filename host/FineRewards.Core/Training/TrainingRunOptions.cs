using FineRewards.Contracts;

namespace FineRewards.Core.Training;

/// <summary>
/// Everything that decides what a run produces. Stored in run.json; a resumed run must be given
/// the same options (compared field by field, the first difference is named).
/// </summary>
/// <param name="StepsPerRound">Fixed optimiser steps per round; exclusive with <paramref name="StepsPerImage"/>.</param>
/// <param name="StepsPerImage">Steps = this times the pairs in the round's (cumulative) training set; when neither
/// this nor <paramref name="StepsPerRound"/> is given, <see cref="DefaultStepsPerImage"/>.</param>
/// <param name="FilterTop">RAFT's filter: keep this fraction of prompts (by the selected image's score), 1 keeps all.</param>
/// <param name="Previews">How many of the first prompts get a fixed-seed preview image after every round (before/after grids).</param>
/// <param name="PromptDropout">Fraction of training samples trained with the empty prompt (see <see cref="Contracts.LoraTrainingOptions"/>).</param>
/// <param name="LrSchedule">constant or cosine.</param>
/// <param name="TrainOn">"latents": selected candidates are learned from the latents they were decoded from (images from
/// outside are encoded); "images": every pair is re-encoded from its PNG (the old behaviour, kept to measure it).</param>
/// <param name="LoraTargets">Which layers the LoRA reaches (<see cref="Contracts.LoraTargets"/>).</param>
/// <param name="Objective">raft (the denoising loss on the kept images) or dpo (the kept image preferred to the prompt's
/// last-ranked one, against the base model; see <see cref="Contracts.LoraObjectives"/>).</param>
/// <param name="DpoBeta">The preference objective's β.</param>
/// <param name="DpoPairs">Preference pairs per kept prompt: the pick against the last-ranked candidate, the second against the second-last, ...</param>
/// <param name="MinTimestep">Train only at timesteps t >= this fraction of T (see <see cref="Contracts.LoraTrainingOptions"/>).</param>
public sealed record TrainingRunOptions(
    string Pack,
    string PromptsFile,
    int Rounds,
    int K,
    IReadOnlyList<string> Rewards,
    string Combine,
    long Seed = 1234,
    int LoraRank = TrainingRunOptions.DefaultLoraRank,
    double LoraAlpha = 4,
    double LearningRate = TrainingRunOptions.DefaultLearningRate,
    int? StepsPerRound = null,
    int? StepsPerImage = null,
    int BatchSize = 1,
    double FilterTop = 1.0,
    double LoraScale = 1.0,
    string? ExtraData = null,
    int Previews = 4,
    GenerationSettings? Generation = null,
    double PromptDropout = TrainingRunOptions.DefaultPromptDropout,
    string LrSchedule = TrainingRunOptions.DefaultLrSchedule,
    string TrainOn = TrainingRunOptions.TrainOnLatents,
    string LoraTargets = TrainingRunOptions.DefaultLoraTargets,
    double MinTimestep = TrainingRunOptions.DefaultMinTimestep,
    string Objective = Contracts.LoraObjectives.Raft,
    double DpoBeta = TrainingRunOptions.DefaultDpoBeta,
    int DpoPairs = 1)
{
    public const string TrainOnLatents = "latents";
    public const string TrainOnImages = "images";
    public const int MaxRounds = 100;
    public const int MaxK = 64;
    // The recipe `train` and the host's TrainingService use unless told otherwise; docs/training.md says why.
    public const int DefaultStepsPerImage = 3;
    public const double DefaultLearningRate = 1e-4;
    public const int DefaultLoraRank = 4;
    public const double DefaultPromptDropout = 0.1;
    public const string DefaultLrSchedule = "constant";
    public const string DefaultLoraTargets = Contracts.LoraTargets.Attention;
    public const double DefaultMinTimestep = 0;
    public const double DefaultDpoBeta = 2000;

    [System.Text.Json.Serialization.JsonIgnore] public SelectionRule Selection => SelectionRule.Parse(Combine);

    /// <summary>Checks ranges; every error names the option.</summary>
    public void Validate()
    {
        if (Rounds is < 1 or > MaxRounds) throw new InputException("--rounds", $"{Rounds}; expected 1 to {MaxRounds}");
        if (K is < 1 or > MaxK) throw new InputException("--k", $"{K}; expected 1 to {MaxK}");
        if (Rewards.Count == 0) throw new InputException("--rewards", "empty; expected e.g. caption,sam");
        var selection = SelectionRule.Parse(Combine);
        if (selection.Combine?.Reward is string single && !Rewards.Contains(single))
            throw new InputException("--combine", $"single:{single} names a reward not in --rewards ({string.Join(",", Rewards)})");
        if (LoraRank is < 1 or > 1024) throw new InputException("--lora-rank", $"{LoraRank}; expected 1 to 1024");
        if (!double.IsFinite(LoraAlpha) || LoraAlpha <= 0) throw new InputException("--lora-alpha", $"{LoraAlpha}; expected a positive number");
        if (!double.IsFinite(LearningRate) || LearningRate <= 0 || LearningRate > 1) throw new InputException("--lr", $"{LearningRate}; expected a number in (0, 1]");
        if (StepsPerRound is not null && StepsPerImage is not null)
            throw new InputException("--steps-per-round", "give one of --steps-per-round N and --steps-per-image M, not both");
        if (StepsPerRound is < 1) throw new InputException("--steps-per-round", $"{StepsPerRound}; expected at least 1");
        if (StepsPerImage is < 1) throw new InputException("--steps-per-image", $"{StepsPerImage}; expected at least 1");
        if (BatchSize < 1) throw new InputException("--batch-size", $"{BatchSize}; expected at least 1");
        if (!(FilterTop > 0 && FilterTop <= 1)) throw new InputException("--filter-top", $"{FilterTop}; expected a fraction in (0, 1]");
        if (!double.IsFinite(LoraScale) || LoraScale < 0) throw new InputException("--lora-scale", $"{LoraScale}; expected a number >= 0");
        if (Previews < 0) throw new InputException("--previews", $"{Previews}; expected 0 or more");
        if (!(PromptDropout >= 0 && PromptDropout < 1)) throw new InputException("--prompt-dropout", $"{PromptDropout}; expected a fraction in [0, 1)");
        if (!Contracts.LoraTrainingOptions.Schedules.Contains(LrSchedule))
            throw new InputException("--lr-schedule", $"\"{LrSchedule}\"; expected one of {string.Join(", ", Contracts.LoraTrainingOptions.Schedules)}");
        if (!Contracts.LoraTargets.All.Contains(LoraTargets))
            throw new InputException("--lora-targets", $"\"{LoraTargets}\"; expected one of {string.Join(", ", Contracts.LoraTargets.All)}");
        if (!(MinTimestep >= 0 && MinTimestep < 1)) throw new InputException("--min-timestep", $"{MinTimestep}; expected a fraction in [0, 1)");
        if (!Contracts.LoraObjectives.All.Contains(Objective))
            throw new InputException("--objective", $"\"{Objective}\"; expected one of {string.Join(", ", Contracts.LoraObjectives.All)}");
        if (Objective == Contracts.LoraObjectives.Dpo)
        {
            if (!(double.IsFinite(DpoBeta) && DpoBeta > 0)) throw new InputException("--dpo-beta", $"{DpoBeta}; expected a positive number");
            if (DpoPairs is < 1 or > MaxK / 2) throw new InputException("--dpo-pairs", $"{DpoPairs}; expected 1 to {MaxK / 2}");
            if (LoraTargets == Contracts.LoraTargets.UNetText) throw new InputException("--objective", "dpo adapts the UNet only; use --lora-targets attention, attention+ff or unet");
        }
        if (TrainOn is not (TrainOnLatents or TrainOnImages)) throw new InputException("--train-on", $"\"{TrainOn}\"; expected {TrainOnLatents} or {TrainOnImages}");
    }

    public int TrainingSteps(int pairs) => StepsPerRound ?? (StepsPerImage ?? DefaultStepsPerImage) * pairs;
}
