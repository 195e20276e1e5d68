namespace FineRewards.Core.Training;

/// <summary>Where a run keeps each thing under RUN_DIR (docs/training.md shows the tree).</summary>
public sealed class RunLayout(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Manifest => Path.Combine(Root, RunManifest.FileName);
    public string Timings => Path.Combine(Root, "timings.json");
    public string Log => Path.Combine(Root, "run.log");

    public static string RoundFolder(int round) => Path.Combine("rounds", $"r{round:00}");
    public static string PromptFolder(int round, int prompt) => Path.Combine(RoundFolder(round), $"p{prompt:0000}");
    public static string CandidateImage(int round, int prompt, int candidate) => Path.Combine(PromptFolder(round, prompt), $"c{candidate}.png");
    public static string CandidateLatents(int round, int prompt, int candidate) => Path.Combine(PromptFolder(round, prompt), $"c{candidate}{IO.LatentFile.Extension}");
    public static string CandidatesFile(int round, int prompt) => Path.Combine(PromptFolder(round, prompt), "candidates.json");
    public static string ScoresFile(int round, int prompt) => Path.Combine(PromptFolder(round, prompt), "scores.json");
    public static string SelectionsFile(int round) => Path.Combine(RoundFolder(round), "selections.json");
    public static string Checkpoint(int round) => Path.Combine("loras", $"round{round:00}.safetensors");
    /// <summary>Round 0 is the base model, round r the LoRA after round r.</summary>
    public static string Preview(int round, int prompt) => Path.Combine("previews", $"r{round:00}", $"p{prompt:0000}.png");

    public string Full(string relative) => Path.Combine(Root, relative);

    /// <summary>RUN_DIR-relative with '/' separators, as run.json stores paths.</summary>
    public string Relative(string path) => Path.GetRelativePath(Root, Path.GetFullPath(path, Root)).Replace('\\', '/');
}
