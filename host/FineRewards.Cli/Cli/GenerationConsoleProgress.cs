using System.Diagnostics;
using FineRewards.Contracts;

namespace FineRewards.Cli.Cli;

/// <summary>
/// `generate`'s progress on stderr: one status line rewritten in place (carriage return) in a terminal;
/// when stderr is redirected, plain lines at a modest rate, as `train` writes them: a prompt's first
/// and last step, and otherwise at most one line every <see cref="Interval"/>.
/// </summary>
public sealed class GenerationConsoleProgress(TextWriter output, bool terminal) : IProgress<GenerationProgress>
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    readonly Stopwatch clock = Stopwatch.StartNew();
    TimeSpan lastLine = TimeSpan.MinValue;

    /// <summary>stderr, redrawn only when it is a terminal.</summary>
    public static GenerationConsoleProgress ForStderr() => new(Console.Error, !Console.IsErrorRedirected);

    public (int Index, int Count) Prompt { get; set; } = (0, 1);

    public void Report(GenerationProgress p)
    {
        string status = $"prompt {Prompt.Index + 1}/{Prompt.Count}: step {p.Step}/{p.Steps}, candidates done {p.CandidatesDone}/{p.Candidates}";
        if (terminal)
        {
            output.Write($"\r{status}   ");
            return;
        }
        var now = clock.Elapsed;
        if (p.Step > 1 && p.Step < p.Steps && now - lastLine < Interval) return;
        lastLine = now;
        output.WriteLine(status);
    }

    /// <summary>Ends the status line a terminal was redrawing.</summary>
    public void End()
    {
        if (terminal) output.WriteLine();
    }
}
