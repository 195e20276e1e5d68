using FineRewards.Contracts;

namespace FineRewards.Plugin.Client;

/// <summary>
/// The plugin's view of the host. Every method returns at once; the work runs in the background and
/// its results appear in later <see cref="Snapshot"/>s. <see cref="Changed"/> is raised on a
/// background thread: editors schedule a repaint from it.
/// </summary>
public interface IHostClient : IDisposable
{
    ClientSnapshot Snapshot { get; }
    event Action? Changed;
    string Address { get; }

    /// <summary>Submits a best-of-K job; returns its id (chosen here, so a retry never makes a second job).</summary>
    string Generate(JobParameters parameters);
    void Cancel(string jobId);
    /// <summary>Follows a job submitted earlier (from history) from its first event.</summary>
    void Watch(string jobId, JobParameters parameters);
    /// <summary>Sends feedback on a candidate; returns the feedback id.</summary>
    string SendFeedback(string jobId, int candidateIndex, FeedbackChoice choice, string profile);
    /// <summary>Uploads an edited image and sends it as <see cref="FeedbackChoice.Edited"/> feedback.</summary>
    string SendEdited(string jobId, int candidateIndex, RgbImage edited, string profile);
    /// <summary>Starts a LoRA training round for <see cref="TrainingParameters.Profile"/>; returns its id (chosen here, so a retry never starts a second).</summary>
    string StartTraining(TrainingParameters parameters);
    /// <summary>Follows a training started earlier from its first event.</summary>
    void WatchTraining(string trainingId, TrainingParameters parameters);
    void CancelTraining(string trainingId);
    /// <summary>Makes the LoRA its profile's active one on the host; the outcome shows in <see cref="ClientSnapshot.LoraNotice"/>.</summary>
    void ActivateLora(string loraId);
    /// <summary>Removes the LoRA from the host's registry and deletes its file.</summary>
    void DeleteLora(string loraId);
    /// <summary>Asks the host whether it would accept the prompt for the pack; the answer shows in <see cref="ClientSnapshot.PromptCheck"/>.</summary>
    void CheckPrompt(string pack, string prompt);
    /// <summary>Asks for the host's capabilities and LoRAs again now (the client also polls).</summary>
    void Refresh();
}
