using System.Net;
using FineRewards.Contracts;
using FineRewards.Core;
using FineRewards.Server.Jobs;

namespace FineRewards.Server;

/// <summary>How the host listens and where it keeps its state.</summary>
/// <param name="DataDirectory">The host's folder (SQLite, images, logs); a relative path is resolved against the
/// working directory when the options are made.</param>
/// <param name="Address">An IP address or "localhost". Anything but loopback requires <paramref name="Token"/>.</param>
/// <param name="Port">0 picks a free port (tests, benchmarks).</param>
/// <param name="Token">When set, every call needs the metadata "authorization: Bearer TOKEN".</param>
/// <param name="Workers">Jobs running at once; 1 for one GPU.</param>
public sealed record HostOptions(
    string DataDirectory,
    string Address = "127.0.0.1",
    int Port = HostOptions.DefaultPort,
    string? Token = null,
    bool Reflection = false,
    int Workers = 1,
    HostLimits? LimitsOverride = null,
    TimeSpan? HeartbeatOverride = null,
    bool LogToConsole = true)
{
    public const int DefaultPort = 50151;
    public const string TokenEnvironmentVariable = "FINEREWARDS_TOKEN";
    public const string ProtocolVersion = "1.0";

    // Absolute from the start: ASP.NET resolves a relative content root against the executable's folder, not the
    // working directory, and `serve --data data` failed there with DirectoryNotFoundException.
    readonly string dataDirectory = Absolute(DataDirectory);

    public string DataDirectory { get => dataDirectory; init => dataDirectory = Absolute(value); }

    static string Absolute(string folder) => string.IsNullOrWhiteSpace(folder)
        ? throw new InputException("--data", "is empty; give the folder for the host's database, images and logs")
        : Path.GetFullPath(folder);

    public HostLimits Limits => LimitsOverride ?? new HostLimits();
    public TimeSpan Heartbeat => HeartbeatOverride ?? TimeSpan.FromSeconds(10);

    public string DatabasePath => Path.Combine(DataDirectory, "host.db");
    public string ImagesFolder => Path.Combine(DataDirectory, "images");
    public string LogsFolder => Path.Combine(DataDirectory, "logs");

    /// <summary>The address to bind, refusing a non-loopback one without a token.</summary>
    public IPAddress BindAddress()
    {
        IPAddress ip;
        if (Address.Equals("localhost", StringComparison.OrdinalIgnoreCase)) ip = IPAddress.Loopback;
        else if (!IPAddress.TryParse(Address, out ip!)) throw new InputException("--address", $"\"{Address}\" is not an IP address or localhost");
        if (!IPAddress.IsLoopback(ip) && string.IsNullOrEmpty(Token))
            throw new InputException("--address", $"binding to {Address} lets other machines reach the host; set a token (--token or ${TokenEnvironmentVariable}) first");
        if (Port is < 0 or > 65535) throw new InputException("--port", $"{Port} is not a port number");
        if (Workers < 1) throw new InputException("--workers", $"{Workers}; at least 1");
        return ip;
    }
}
