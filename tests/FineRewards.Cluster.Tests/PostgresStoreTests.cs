using FineRewards.Cluster.Hosting;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace FineRewards.Cluster.Tests;

/// <summary>What only the database store has: several writers, its schema, its connection string.</summary>
public sealed class PostgresStoreTests
{
    static JobRecord Job(string id) => new(id, WorkKind.Generation, "alice", "{}", "h", 1, "shapes", "", DateTimeOffset.UtcNow);

    static ClusterEvent Event(long sequence, string json = "{}") => new(sequence, DateTimeOffset.UtcNow, json, "", null);

    [Fact]
    public async Task Two_silos_writing_the_same_event_number_store_it_once()
    {
        await using var db = await TestPostgres.NewSchemaAsync();
        await using var a = new PostgresClusterStore(db.ConnectionString);
        await using var b = new PostgresClusterStore(db.ConnectionString);
        await a.EnsureSchemaAsync();
        string id = "job-" + Guid.NewGuid().ToString("N");
        await a.InsertJobAsync(Job(id), Event(1));

        for (int sequence = 2; sequence < 12; sequence++)
        {
            var writes = new[] { a.AppendEventsAsync(id, [Event(sequence, """{"by":"a"}""")]), b.AppendEventsAsync(id, [Event(sequence, """{"by":"b"}""")]) };
            try { await Task.WhenAll(writes); } catch (InvalidOperationException) { }
            Assert.Equal(1, writes.Count(w => w.IsCompletedSuccessfully));
            Assert.IsType<InvalidOperationException>(writes.Single(w => w.IsFaulted).Exception!.InnerException);
        }
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), (await b.LoadJobAsync(id))!.Value.Events.Select(e => e.Sequence));
    }

    [Fact]
    public async Task The_schema_can_be_applied_again_and_by_several_silos_at_once()
    {
        await using var db = await TestPostgres.NewSchemaAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => new PostgresClusterStore(db.ConnectionString)).ToList();
        await Task.WhenAll(stores.Select(s => s.EnsureSchemaAsync()));
        await stores[0].EnsureSchemaAsync();
        string id = "job-" + Guid.NewGuid().ToString("N");
        Assert.True(await stores[1].InsertJobAsync(Job(id), Event(1)));
        Assert.NotNull(await stores[2].LoadJobAsync(id));
        foreach (var s in stores) await s.DisposeAsync();
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("Hots=db;Database=x", "does not parse")]
    [InlineData("Database=x;Username=y", "names no Host")]
    public void A_bad_connection_string_is_refused_saying_what_is_wrong(string connectionString, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => new PostgresClusterStore(connectionString));
        Assert.Contains("PostgreSQL connection string", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_fails_naming_where_it_was_looked_for()
    {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        await using var store = new PostgresClusterStore("Host=127.0.0.1;Port=1;Database=nowhere;Username=x;Timeout=5");
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.EnsureSchemaAsync());
        Assert.Contains("127.0.0.1:1/nowhere", e.Message);
    }

    [Fact]
    public async Task A_silo_refuses_to_start_on_a_database_without_Orleans_tables_and_names_the_scripts()
    {
        await using var db = await TestPostgres.NewSchemaAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("test", "test"));
            silo.ConfigureEndpoints(System.Net.IPAddress.Loopback, TestPorts.Free(), TestPorts.Free());
            silo.UsePostgresCluster(db.ConnectionString);
            silo.AddFineRewardsCluster(_ => { });
        });
        using var host = builder.Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var message = e.ToString();
        Assert.Contains("no Orleans tables", message);
        Assert.Contains("PostgreSQL-Main.sql then PostgreSQL-Clustering.sql", message);
        // The silo's own tables were created before the check.
        await using var store = new PostgresClusterStore(db.ConnectionString);
        Assert.Null(await store.LoadJobAsync("none"));
    }
}

static class TestPorts
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
