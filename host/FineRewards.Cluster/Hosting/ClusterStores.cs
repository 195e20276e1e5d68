using FineRewards.Cluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace FineRewards.Cluster.Hosting;

/// <summary>Where a `serve --cluster` silo keeps the cluster's shared state and membership: both in PostgreSQL, or the state alone.</summary>
static class ClusterStores
{
    /// <summary>The cluster's store alone: localhost clustering keeps the membership in the primary silo.</summary>
    public static void UseStore(ISiloBuilder silo, string database)
    {
        silo.Services.AddSingleton(_ => new PostgresClusterStore(database));
        silo.Services.AddSingleton<IClusterStore>(services => services.GetRequiredService<PostgresClusterStore>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreSchemaSetup>();
    }

    /// <summary>Store and Orleans' membership table in the one PostgreSQL database (pgstore's <see cref="PostgresClusterExtensions.UsePostgresCluster"/>).</summary>
    public static void UseClustering(ISiloBuilder silo, string database)
    {
        silo.UsePostgresCluster(database);
    }

    /// <summary>Creates the store's tables if missing before the silo joins (the postgres clustering's own check does this and more).</summary>
    sealed class StoreSchemaSetup(PostgresClusterStore store, ILogger<StoreSchemaSetup> logger) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(StoreSchemaSetup), ServiceLifecycleStage.RuntimeInitialize, async cancellationToken =>
            {
                await store.EnsureSchemaAsync(cancellationToken);
                logger.LogInformation("cluster store: PostgreSQL {Where}, tables ready", store.Where);
            });
    }
}
