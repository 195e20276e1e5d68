using FineRewards.Server.Hosting;

namespace FineRewards.Server.Tests;

/// <summary>
/// The test assembly doubles as a host process for the crash test: `dotnet FineRewards.Server.Tests.dll
/// serve-child DATA_DIR` serves the test models (slow steps, so a job is running when it is killed),
/// prints "listening on URL" and runs until killed.
/// </summary>
public static class Program
{
    public const string ServeChild = "serve-child";

    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 2 || args[0] != ServeChild)
        {
            Console.Error.WriteLine($"usage: {ServeChild} DATA_DIR (this assembly holds tests; run them with dotnet test)");
            return 2;
        }
        var generator = new SolidColourGenerator { StepDelay = TimeSpan.FromMilliseconds(200) };
        var options = new HostOptions(args[1], Port: 0, LogToConsole: false);
        await using var host = await FineRewardsHost.StartAsync(options, TestHost.Models(generator));
        Console.WriteLine($"listening on {host.Address}");
        await host.WaitForShutdownAsync();
        return 0;
    }
}
