using System.Diagnostics;

namespace FineRewards.Cli.Cli;

/// <summary>
/// The process's resident memory for benchmarks: now, and the peak since the last <see cref="ResetPeak"/>. On Linux the
/// kernel's high-water mark (VmHWM) can be reset through /proc/self/clear_refs, so the peak of one phase (loading a
/// model, one run) is measured on its own; elsewhere the peak is the process's whole-life peak.
/// </summary>
public static class ResidentMemory
{
    public static double CurrentMiB() => Read("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64 / 1048576.0;

    public static double PeakMiB()
    {
        using var process = Process.GetCurrentProcess();
        return Read("VmHWM:") ?? process.PeakWorkingSet64 / 1048576.0;
    }

    /// <summary>Collects garbage and starts a new peak at the current resident size; false where the OS cannot.</summary>
    public static bool ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    static double? Read(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;   // kB
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }
}
