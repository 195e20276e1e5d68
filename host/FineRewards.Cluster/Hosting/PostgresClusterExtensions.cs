using FineRewards.Cluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Runtime;

namespace FineRewards.Cluster.Hosting;

public static class PostgresClusterExtensions
{
    /// <summary>
    /// Orleans' ADO.NET invariant for Npgsql: Orleans loads the provider by this name.
    /// </summary>
    public const string NpgsqlInvariant = "Npgsql";

    /// <summary>
    /// Silos on several machines share one PostgreSQL database: Orleans' ADO.NET clustering (its
    /// membership table, which needs Orleans' own schema scripts applied once, docs/cluster.md) and the
    /// <see cref="PostgresClusterStore"/> as the cluster's <see cref="IClusterStore"/>. At start the silo
    /// creates the store's tables if missing and checks Orleans' tables are there, before it joins.
    /// The caller sets <c>ClusterOptions</c> (cluster and service id), endpoints and
    /// <see cref="ClusterSiloExtensions.AddFineRewardsCluster"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The connection string does not parse or names no host.</exception>
    public static ISiloBuilder UsePostgresCluster(this ISiloBuilder silo, string connectionString)
    {
        PostgresClusterStore.ConnectionString(connectionString);
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = NpgsqlInvariant;
            o.ConnectionString = connectionString;
        });
        // Built by the container so that it is disposed (its connection pool closed) with the silo.
        silo.Services.AddSingleton(_ => new PostgresClusterStore(connectionString));
        silo.Services.AddSingleton<IClusterStore>(services => services.GetRequiredService<PostgresClusterStore>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, PostgresSchemaCheck>();
        return silo;
    }
}

/// <summary>
/// Before the silo joins the membership table: the store's tables exist, and Orleans' clustering
/// queries are installed, else the start fails saying which scripts to apply (Orleans' own message
/// for a missing table names neither).
/// </summary>
sealed class PostgresSchemaCheck(PostgresClusterStore store, ILogger<PostgresSchemaCheck> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    // The queries Orleans' ADO.NET clustering reads from OrleansQuery (PostgreSQL-Clustering.sql inserts them).
    static readonly string[] ClusteringQueries =
    [
        "UpdateIAmAlivetimeKey", "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey",
        "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey",
    ];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PostgresSchemaCheck), ServiceLifecycleStage.RuntimeInitialize, async cancellationToken =>
        {
            await store.EnsureSchemaAsync(cancellationToken);
            await CheckOrleansSchemaAsync(store, cancellationToken);
            logger.LogInformation("cluster store: PostgreSQL {Where}, tables ready", store.Where);
        });

    internal static async Task CheckOrleansSchemaAsync(PostgresClusterStore store, CancellationToken cancellationToken)
    {
        const string scripts = "PostgreSQL-Main.sql then PostgreSQL-Clustering.sql of Orleans' ADO.NET clustering (docs/cluster.md)";
        await using var connection = await store.DataSource.OpenConnectionAsync(cancellationToken);
        await using var select = new NpgsqlCommand("SELECT querykey FROM orleansquery WHERE querykey = ANY(@keys)", connection);
        select.Parameters.AddWithValue("keys", ClusteringQueries);
        var found = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var rows = await select.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken)) found.Add(rows.GetString(0));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new InvalidOperationException($"PostgreSQL {store.Where} has no Orleans tables (no OrleansQuery): apply {scripts} to this database once");
        }
        var missing = ClusteringQueries.Where(k => !found.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"PostgreSQL {store.Where}: Orleans' clustering queries {string.Join(", ", missing)} are missing from OrleansQuery: apply {scripts}");
    }
}
