using Npgsql;

namespace FineRewards.Cluster.Storage;

/// <summary>
/// A schema of its own in a PostgreSQL database, dropped with everything in it when disposed: for a run
/// that must not touch a cluster's tables there (<c>bench cluster --postgres</c>, the tests). Its
/// <see cref="ConnectionString"/> sets <c>Search Path</c> to it, so every table created through it lands there.
/// </summary>
public sealed class PostgresSchema : IAsyncDisposable
{
    public string Name { get; }
    public string ConnectionString { get; }
    readonly string server;

    PostgresSchema(string server, string name)
    {
        this.server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { SearchPath = name }.ConnectionString;
    }

    /// <param name="prefix">Lower-case letters, digits and '_': the schema is PREFIX_ and a new GUID.</param>
    public static async Task<PostgresSchema> CreateAsync(string connectionString, string prefix)
    {
        var schema = new PostgresSchema(PostgresClusterStore.ConnectionString(connectionString), $"{prefix}_{Guid.NewGuid():N}");
        await ExecuteAsync(schema.server, $"CREATE SCHEMA {schema.Name}");
        return schema;
    }

    /// <summary>Runs SQL (several statements allowed) in this schema.</summary>
    public Task ExecuteAsync(string sql) => ExecuteAsync(ConnectionString, sql);

    static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // Idle pooled connections that used the schema are closed first (all pools of plain connections: tests and bench only).
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(server, $"DROP SCHEMA IF EXISTS {Name} CASCADE");
    }
}
