using System.Text.Json;
using FineRewards.Contracts;
using System.Text.Json.Serialization;

namespace FineRewards.Core.Training;

public sealed record RewardInfo(string Name, string Version);

/// <summary>Ground-truth accuracy of one task's prompts in a round.</summary>
/// <param name="Accuracy">Correct candidates / all candidates.</param>
/// <param name="SelectedAccuracy">Prompts whose selected image is correct / prompts.</param>
/// <param name="AnyCorrect">Prompts with at least one correct candidate of K / prompts.</param>
public sealed record AccuracyStats(int Prompts, double Accuracy, double SelectedAccuracy, double AnyCorrect);

/// <param name="RewardMean">Mean score of every candidate, per reward: how good the model's samples are.</param>
/// <param name="SelectedMean">Mean score of the selected candidates, per reward.</param>
/// <param name="Overall">Ground truth over all prompts; null when the pack has no ground truth.</param>
public sealed record RoundMetrics(
    IReadOnlyDictionary<string, double> RewardMean,
    IReadOnlyDictionary<string, double> SelectedMean,
    AccuracyStats? Overall,
    IReadOnlyDictionary<string, AccuracyStats>? ByTask);

/// <summary>One finished round as run.json records it. Paths are relative to RUN_DIR.</summary>
/// <param name="LoraIn">The checkpoint the round generated with; null in round 1 (the base model).</param>
public sealed record RoundRecord(
    int Round,
    string? LoraIn,
    int Prompts,
    int Kept,
    int TrainingPairs,
    int TrainingSteps,
    long TrainingSeed,
    double? FinalLoss,
    string Checkpoint,
    string CheckpointSha256,
    string SelectionsSha256,
    RoundMetrics Metrics);

/// <summary>
/// run.json: the options, the inputs' hashes, the models' names and versions, and every finished
/// round. It holds no times, so a resumed run (same options, same inputs) writes the same bytes as an
/// uninterrupted one; times go to timings.json and run.log.
/// </summary>
public sealed record RunManifest(
    string Format,
    TrainingRunOptions Options,
    string PromptsSha256,
    int PromptCount,
    string? ExtraDataSha256,
    int ExtraPairs,
    string Generator,
    IReadOnlyList<RewardInfo> Rewards,
    string? GroundTruth,
    IReadOnlyList<RoundRecord> Rounds,
    string Status)
{
    public const string CurrentFormat = "finerewards-run/1";
    public const string FileName = "run.json";
    public const string Running = "running";
    public const string Completed = "completed";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    public static RunManifest Load(string path)
    {
        try
        {
            var m = JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json);
            if (m is null || m.Format != CurrentFormat) throw new InputException(path, $"not a run manifest of format {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"not a valid run.json ({e.Message})");
        }
    }
}
