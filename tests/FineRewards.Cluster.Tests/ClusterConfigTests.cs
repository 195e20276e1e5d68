using FineRewards.Cluster.Hosting;
using FineRewards.Contracts;
using FineRewards.Core;

namespace FineRewards.Cluster.Tests;

public sealed class ClusterConfigTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("cluster-config-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Valid(string devices = """[ { "name": "gpu0", "packs": ["shapes"] } ]""") => $$"""
        {
          "cluster_id": "studio",
          "silo_port": 11111,
          "gateway_port": 30000,
          "clustering": { "kind": "localhost", "primary_silo_port": 11111 },
          "database": "Host=127.0.0.1;Port=55432;Database=finerewards;Username=finerewards",
          "shared_folder": "{{folder}}",
          "devices": {{devices}}
        }
        """;

    ClusterConfig Load(string json)
    {
        string path = Path.Combine(folder, "cluster.json");
        File.WriteAllText(path, json);
        return ClusterConfig.Load(path, ["shapes"]);
    }

    InputException Refused(string json) => Assert.Throws<InputException>(() => Load(json));

    [Fact]
    public void A_valid_file_gives_every_field_and_the_defaults()
    {
        var config = Load(Valid());
        Assert.Equal("studio", config.ClusterId);
        Assert.Equal("finerewards", config.ServiceId);
        Assert.Equal((11111, 30000), (config.SiloPort, config.GatewayPort));
        Assert.Equal(new ClusteringConfig("localhost", 11111), config.Clustering);
        Assert.Equal("gpu0", config.DeviceList.Single().Name);
        Assert.Equal(["shapes"], config.DeviceList.Single().Packs);
        Assert.Equal(500, config.HeartbeatMs);
        Assert.Equal(8080, config.DashboardPort);
        Assert.Empty(Load(Valid("[]")).DeviceList);
    }

    [Fact]
    public void Each_problem_names_the_file_and_field_and_says_what_was_expected()
    {
        string file = Path.Combine(folder, "cluster.json");
        var unknown = Refused(Valid().Replace("\"silo_port\"", "\"silo_prot\": 1, \"silo_port\""));
        Assert.Equal($"{file}: silo_prot", unknown.Field);

        var missing = Refused(Valid().Replace("\"cluster_id\": \"studio\",", ""));
        Assert.Contains("cluster_id", missing.Message);

        var type = Refused(Valid().Replace("11111,", "\"eleven\","));
        Assert.Equal($"{file}: silo_port", type.Field);

        var kind = Refused(Valid().Replace("\"kind\": \"localhost\"", "\"kind\": \"consul\""));
        Assert.Equal($"{file}: clustering.kind", kind.Field);
        Assert.Contains("expected \"localhost\" (one machine) or \"postgres\"", kind.Message);

        var ports = Refused(Valid().Replace("30000", "11111"));
        Assert.Equal($"{file}: gateway_port", ports.Field);

        var pack = Refused(Valid("""[ { "name": "gpu0", "packs": ["sd15"] } ]"""));
        Assert.Equal($"{file}: devices[0].packs[0]", pack.Field);
        Assert.Contains("\"sd15\" is not served by this silo; packs: shapes", pack.Message);

        var twice = Refused(Valid("""[ { "name": "gpu0", "packs": ["shapes"] }, { "name": "gpu0", "packs": ["shapes"] } ]"""));
        Assert.Equal($"{file}: devices[1].name", twice.Field);

        var shared = Refused(Valid().Replace(folder, folder + "/absent"));
        Assert.Equal($"{file}: shared_folder", shared.Field);

        var database = Refused(Valid().Replace("Host=127.0.0.1;", ""));
        Assert.Equal($"{file}: database", database.Field);
        Assert.Contains("names no Host", database.Message);

        var primary = Refused(Valid().Replace("\"kind\": \"localhost\"", "\"kind\": \"postgres\""));
        Assert.Equal($"{file}: clustering.primary_silo_port", primary.Field);

        Assert.Equal("--cluster", Assert.Throws<InputException>(() => ClusterConfig.Load(Path.Combine(folder, "none.json"), ["shapes"])).Field);
    }
}
