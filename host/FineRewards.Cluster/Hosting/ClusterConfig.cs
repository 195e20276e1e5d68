using System.Net;
using FineRewards.Contracts;
using System.Text.Json;
using System.Text.Json.Serialization;
using FineRewards.Core;

namespace FineRewards.Cluster.Hosting;

/// <summary>One device of this silo and the packs it can load (<c>devices[i]</c>).</summary>
public sealed record DeviceConfig(string Name, IReadOnlyList<string> Packs);

/// <summary>How silos find each other (<c>clustering</c>).</summary>
/// <param name="Kind"><c>localhost</c>: Orleans' development clustering, every silo on this machine, the membership
/// kept by the primary silo (the cluster ends with it); <c>postgres</c>: Orleans' ADO.NET clustering in <see cref="ClusterConfig.Database"/>.</param>
/// <param name="PrimarySiloPort">localhost only: the silo port of the primary silo (this silo's own port makes it the primary).</param>
public sealed record ClusteringConfig(string Kind, int? PrimarySiloPort = null);

/// <summary>
/// The file <c>finerewards serve --cluster CONFIG</c> reads (JSON, snake_case names; docs/cluster.md lists
/// every field with an example). Every problem is an <see cref="InputException"/> naming the file and field.
/// </summary>
/// <param name="Database">Npgsql connection string of the PostgreSQL database every silo shares (jobs, events, LoRA registry, scheduler).</param>
/// <param name="SharedFolder">A folder every silo mounts at this path: images and LoRAs, content-addressed.</param>
public sealed record ClusterConfig(
    string ClusterId,
    int SiloPort,
    int GatewayPort,
    ClusteringConfig Clustering,
    string Database,
    string SharedFolder,
    string ServiceId = "finerewards",
    string AdvertisedAddress = "127.0.0.1",
    IReadOnlyList<DeviceConfig>? Devices = null,
    int HeartbeatMs = 500,
    int ProbeTimeoutMs = 5000,
    int MissedProbesLimit = 3,
    int DashboardPort = 8080)
{
    public const string LocalhostClustering = "localhost";
    public const string PostgresClustering = "postgres";

    public IReadOnlyList<DeviceConfig> DeviceList => Devices ?? [];

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads and checks the file; <paramref name="packs"/> are the packs this silo serves (a device's packs must be among them).</summary>
    public static ClusterConfig Load(string path, IReadOnlyCollection<string> packs)
    {
        if (!File.Exists(path)) throw new InputException("--cluster", $"no file {Path.GetFullPath(path)}; give the cluster config (JSON, docs/cluster.md)");
        ClusterConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ClusterConfig>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            // System.Text.Json names the field as a JSON path ($.devices[0].packs); the message says what it expected.
            string field = e.Path is { Length: > 2 } p ? p[2..] : "(file)";
            throw new InputException($"{path}: {field}", e.Message.Split(" Path:")[0]);
        }
        if (config is null) throw new InputException($"{path}", "is null; expected a JSON object (docs/cluster.md)");
        config.Check(path, packs);
        return config;
    }

    void Check(string file, IReadOnlyCollection<string> packs)
    {
        InputException Bad(string field, string message) => new($"{file}: {field}", message);
        static bool IsName(string s) => s.Length is > 0 and <= 100 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

        if (!IsName(ClusterId)) throw Bad("cluster_id", $"\"{ClusterId}\"; expected 1-100 letters, digits, '-', '_' or '.'");
        if (!IsName(ServiceId)) throw Bad("service_id", $"\"{ServiceId}\"; expected 1-100 letters, digits, '-', '_' or '.'");
        if (SiloPort is < 1 or > 65535) throw Bad("silo_port", $"{SiloPort} is not a port (1-65535)");
        if (GatewayPort is < 1 or > 65535) throw Bad("gateway_port", $"{GatewayPort} is not a port (1-65535)");
        if (GatewayPort == SiloPort) throw Bad("gateway_port", $"{GatewayPort} is also silo_port; each needs its own port");
        if (!IPAddress.TryParse(AdvertisedAddress, out _)) throw Bad("advertised_address", $"\"{AdvertisedAddress}\" is not an IP address (the address other silos reach this one at)");
        switch (Clustering.Kind)
        {
            case LocalhostClustering:
                if (Clustering.PrimarySiloPort is < 1 or > 65535) throw Bad("clustering.primary_silo_port", $"{Clustering.PrimarySiloPort} is not a port (1-65535)");
                break;
            case PostgresClustering:
                if (Clustering.PrimarySiloPort is not null) throw Bad("clustering.primary_silo_port", "is for localhost clustering only; postgres clustering has no primary silo");
                break;
            default:
                throw Bad("clustering.kind", $"\"{Clustering.Kind}\"; expected \"{LocalhostClustering}\" (one machine) or \"{PostgresClustering}\"");
        }
        try { Storage.PostgresClusterStore.ConnectionString(Database); }
        catch (ArgumentException e) { throw Bad("database", $"{e.Message.Split(" (Parameter")[0]} (the cluster's PostgreSQL database, shared by every silo)"); }
        if (string.IsNullOrWhiteSpace(SharedFolder) || !Path.IsPathFullyQualified(SharedFolder))
            throw Bad("shared_folder", $"\"{SharedFolder}\"; expected an absolute path every silo mounts");
        if (!Directory.Exists(SharedFolder)) throw Bad("shared_folder", $"{SharedFolder} does not exist on this machine; mount or create it first");
        if (HeartbeatMs is < 50 or > 60_000) throw Bad("heartbeat_ms", $"{HeartbeatMs}; expected 50 to 60000");
        if (ProbeTimeoutMs is < 100 or > 60_000) throw Bad("probe_timeout_ms", $"{ProbeTimeoutMs}; expected 100 to 60000");
        if (MissedProbesLimit is < 1 or > 10) throw Bad("missed_probes_limit", $"{MissedProbesLimit}; expected 1 to 10");
        if (DashboardPort is < 1 or > 65535) throw Bad("dashboard_port", $"{DashboardPort} is not a port (1-65535)");
        for (int i = 0; i < DeviceList.Count; i++)
        {
            var d = DeviceList[i];
            if (!IsName(d.Name) || d.Name.Contains('/')) throw Bad($"devices[{i}].name", $"\"{d.Name}\"; expected 1-100 letters, digits, '-', '_' or '.'");
            if (DeviceList.Take(i).Any(o => o.Name == d.Name)) throw Bad($"devices[{i}].name", $"\"{d.Name}\" is listed twice");
            if (d.Packs.Count == 0) throw Bad($"devices[{i}].packs", "empty; list the packs this device can load");
            for (int p = 0; p < d.Packs.Count; p++)
                if (!packs.Contains(d.Packs[p]))
                    throw Bad($"devices[{i}].packs[{p}]", $"\"{d.Packs[p]}\" is not served by this silo; packs: {string.Join(", ", packs)} (add --pack FOLDER)");
        }
    }
}
