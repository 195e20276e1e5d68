using FineRewards.Cluster.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace FineRewards.Cluster.Hosting;

/// <summary>Where a `serve --cluster` silo keeps the cluster's shared state and membership.</summary>
static class ClusterStores
{
    /// <summary>The cluster's store alone (localhost clustering keeps membership in the primary silo).</summary>
    public static void UseStore(ISiloBuilder silo, string database) =>
        throw new FineRewards.Core.InputException("database", "the PostgreSQL cluster store is not in this build yet");

    /// <summary>Store and Orleans' membership table in the one PostgreSQL database.</summary>
    public static void UseClustering(ISiloBuilder silo, string database) =>
        throw new FineRewards.Core.InputException("clustering.kind", "postgres clustering is not in this build yet");
}
