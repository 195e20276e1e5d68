using FineRewards.Contracts;
using FineRewards.Plugin.Client;

namespace FineRewards.Plugin.Tests;

/// <summary>A host client whose snapshot the test sets: panels drawn from known states, calls recorded.</summary>
public sealed class SnapshotClient(ClientSnapshot snapshot) : IHostClient
{
    public ClientSnapshot Snapshot { get; set; } = snapshot;
    public event Action? Changed;
    public string Address => "http://127.0.0.1:50151";
    public List<string> Calls { get; } = [];

    public List<JobParameters> Generated { get; } = [];
    public List<TrainingParameters> Trained { get; } = [];

    public string Generate(JobParameters parameters) { Calls.Add($"generate {parameters.Prompt}"); Generated.Add(parameters); return "job-new"; }
    public void Cancel(string jobId) => Calls.Add($"cancel {jobId}");
    public void Watch(string jobId, JobParameters parameters) => Calls.Add($"watch {jobId}");
    public string SendFeedback(string jobId, int candidateIndex, FeedbackChoice choice, string profile) { Calls.Add($"feedback {choice} {candidateIndex}"); return "fb"; }
    public string SendEdited(string jobId, int candidateIndex, RgbImage edited, string profile) { Calls.Add($"edited {candidateIndex}"); return "fb"; }
    public void Refresh() => Calls.Add("refresh");
    /// <summary>The host's answer to CheckPrompt, as the test wants it; null: the question is only recorded.</summary>
    public Func<string, string, PromptCheck>? Checker { get; set; }
    public void CheckPrompt(string pack, string prompt)
    {
        Calls.Add($"check {pack}|{prompt}");
        if (Checker is not null) Snapshot = Snapshot with { PromptCheck = Checker(pack, prompt) };
    }
    /// <summary>Like the real client: the new training is in the snapshot at once, starting.</summary>
    public string StartTraining(TrainingParameters parameters)
    {
        Trained.Add(parameters);
        Calls.Add($"train {parameters.Profile} steps/image {parameters.StepsPerImage} generated {parameters.IncludeGenerated}");
        string id = $"training-new-{Trained.Count}";
        Snapshot = Snapshot with { Trainings = Snapshot.Trainings.SetItem(id, new TrainingView(id, parameters, TrainingJobPhase.Submitting)) };
        return id;
    }
    public void WatchTraining(string trainingId, TrainingParameters parameters) => Calls.Add($"watch training {trainingId}");
    public void CancelTraining(string trainingId) => Calls.Add($"cancel training {trainingId}");
    public void ActivateLora(string loraId) => Calls.Add($"activate {loraId}");
    public void DeleteLora(string loraId) => Calls.Add($"delete {loraId}");
    public void RaiseChanged() => Changed?.Invoke();
    public void Dispose() { }
}
