namespace FineRewards.Cli.Doctor;

public enum CheckStatus { Ok, Warning, Failed }

/// <param name="Required">A failed required check makes `doctor` exit non-zero.</param>
/// <param name="Facts">What was found (versions, paths, counts), for humans and for --json.</param>
/// <param name="Fix">What to do about a warning or failure.</param>
public sealed record DoctorCheck(
    string Name,
    CheckStatus Status,
    bool Required,
    string Summary,
    IReadOnlyDictionary<string, string> Facts,
    string? Fix = null);
