using FineRewards.Contracts;

namespace FineRewards.Core.Training;

public enum RunPhase { Generate, Score, Select, Train, Preview, Evaluate }

/// <summary>
/// What a run tells whoever watches it: a terminal (progress bars), a log, or the gRPC host
/// (events). Called on the run's thread, in order; implementations must return quickly.
/// </summary>
public interface IRunProgress
{
    void PhaseStarted(int round, RunPhase phase, int total);
    /// <param name="done">Units finished so far (prompts, or training steps).</param>
    void PhaseAdvanced(int round, RunPhase phase, int done, int total);
    void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed);
    void TrainingStep(int round, TrainingProgress step);
    void RoundFinished(RoundRecord record);
    void Message(string line);
}

public sealed class NullRunProgress : IRunProgress
{
    public static readonly NullRunProgress Instance = new();
    public void PhaseStarted(int round, RunPhase phase, int total) { }
    public void PhaseAdvanced(int round, RunPhase phase, int done, int total) { }
    public void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed) { }
    public void TrainingStep(int round, TrainingProgress step) { }
    public void RoundFinished(RoundRecord record) { }
    public void Message(string line) { }
}

public static class RunPhases
{
    public static string Key(this RunPhase phase) => phase switch
    {
        RunPhase.Generate => "generate",
        RunPhase.Score => "score",
        RunPhase.Select => "select",
        RunPhase.Train => "train",
        RunPhase.Preview => "preview",
        RunPhase.Evaluate => "evaluate",
        _ => throw new ArgumentOutOfRangeException(nameof(phase)),
    };

    /// <summary>Time left at the pace so far; null before the first unit is done.</summary>
    public static TimeSpan? Eta(TimeSpan elapsed, int done, int total) =>
        done <= 0 || total <= done ? (done >= total && total > 0 ? TimeSpan.Zero : null) : elapsed * ((double)(total - done) / done);
}
