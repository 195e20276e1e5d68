using FineRewards.Core;
using FineRewards.Contracts;

namespace FineRewards.Cli.Cli;

/// <summary>Exit codes and the one way commands report bad input.</summary>
public static class CliErrors
{
    public const int Ok = 0;
    /// <summary>Something the command needs is broken (doctor) or the job failed.</summary>
    public const int Failed = 1;
    /// <summary>The user's input was invalid; the message names the field or file.</summary>
    public const int BadInput = 2;

    /// <summary>Runs a command body, turning bad input into one clear line on stderr.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (InputException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
    }
}
