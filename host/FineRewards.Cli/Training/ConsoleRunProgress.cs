using System.Diagnostics;
using System.Globalization;
using FineRewards.Contracts;
using FineRewards.Core.Training;
using Spectre.Console;

namespace FineRewards.Cli.Training;

/// <summary>
/// Progress of a training or eval run on the console: Spectre.Console progress bars (with the time
/// left per phase) in a terminal, plain lines with an ETA when the output is redirected.
/// </summary>
public static class ConsoleRunProgress
{
    public static T Run<T>(TextWriter output, Func<IRunProgress, T> body)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!terminal) return body(new PlainLines(output));

        T result = default!;
        var summaries = new List<string>();
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => result = body(new Bars(ctx, summaries)));
        foreach (string line in summaries) output.WriteLine(line);
        return result;
    }

    public static string Summary(RoundRecord r)
    {
        var parts = new List<string>
        {
            $"round {r.Round}: kept {r.Kept}/{r.Prompts}, trained on {r.TrainingPairs} pairs for {r.TrainingSteps} steps" +
            (r.FinalLoss is double loss ? $" (final loss {loss.ToString("0.####", CultureInfo.InvariantCulture)})" : ""),
            "reward mean " + string.Join(", ", r.Metrics.RewardMean.Select(kv => $"{kv.Key}={kv.Value.ToString("0.###", CultureInfo.InvariantCulture)}")),
        };
        if (r.Metrics.Overall is { } a)
            parts.Add($"accuracy {a.Accuracy:P1}, selected {a.SelectedAccuracy:P1}, any-of-K {a.AnyCorrect:P1}");
        return string.Join("; ", parts);
    }

    static string Name(int round, RunPhase phase) => round == 0 && phase == RunPhase.Preview ? "base preview" : $"round {round} {phase.Key()}";

    sealed class PlainLines(TextWriter output) : IRunProgress
    {
        static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
        readonly Stopwatch phaseClock = new();
        TimeSpan lastLine;

        public void PhaseStarted(int round, RunPhase phase, int total)
        {
            phaseClock.Restart();
            lastLine = TimeSpan.Zero;
            output.WriteLine($"{Name(round, phase)}: {total} {(phase == RunPhase.Train ? "steps" : "units")}");
        }

        public void PhaseAdvanced(int round, RunPhase phase, int done, int total)
        {
            var elapsed = phaseClock.Elapsed;
            if (done < total && elapsed - lastLine < Interval) return;
            lastLine = elapsed;
            var eta = RunPhases.Eta(elapsed, done, total);
            output.WriteLine($"{Name(round, phase)}: {done}/{total}, elapsed {elapsed:hh\\:mm\\:ss}, ETA {(eta is { } e ? e.ToString("hh\\:mm\\:ss", CultureInfo.InvariantCulture) : "?")}");
        }

        public void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed) =>
            output.WriteLine($"{Name(round, phase)}: done in {elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");

        public void TrainingStep(int round, TrainingProgress step)
        {
            if (step.Step == step.Steps || phaseClock.Elapsed - lastLine >= Interval)
                output.WriteLine($"round {round} train: step {step.Step}/{step.Steps}, loss {step.Loss.ToString("0.####", CultureInfo.InvariantCulture)}");
        }

        public void RoundFinished(RoundRecord record) => output.WriteLine(Summary(record));
        public void Message(string line) => output.WriteLine(line);
    }

    sealed class Bars(ProgressContext context, List<string> summaries) : IRunProgress
    {
        ProgressTask? current;

        public void PhaseStarted(int round, RunPhase phase, int total) =>
            current = context.AddTask(Name(round, phase), autoStart: true, maxValue: Math.Max(1, total));

        public void PhaseAdvanced(int round, RunPhase phase, int done, int total)
        {
            if (current is not null) current.Value = done;
        }

        public void PhaseFinished(int round, RunPhase phase, TimeSpan elapsed)
        {
            if (current is null) return;
            current.Value = current.MaxValue;
            current.StopTask();
        }

        public void TrainingStep(int round, TrainingProgress step)
        {
            if (current is not null) current.Description = $"round {round} train (loss {step.Loss.ToString("0.####", CultureInfo.InvariantCulture)})";
        }

        public void RoundFinished(RoundRecord record) => summaries.Add(Summary(record));
        public void Message(string line) => summaries.Add(line);
    }
}
