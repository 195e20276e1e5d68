using Npgsql;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// The PostgreSQL server of the test run (FINEREWARDS_TEST_PG, an Npgsql connection string; tests/run.sh
/// starts one with tests/postgres/pg-start.sh). Each user gets a schema of its own, dropped at the end,
/// so tests never see each other's rows and a developer's database is left as it was.
/// </summary>
public sealed class TestPostgres : IAsyncDisposable
{
    public const string Variable = "FINEREWARDS_TEST_PG";

    /// <summary>The connection string with <c>Search Path</c> set to this schema: every table the tests create lands there.</summary>
    public string ConnectionString { get; }
    readonly string server, schema;

    TestPostgres(string server, string schema)
    {
        this.server = server;
        this.schema = schema;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { SearchPath = schema }.ConnectionString;
    }

    /// <summary>A PostgreSQL test fails, never skips, without a server: it says how to start one.</summary>
    public static string Server => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } s ? s
        : throw new InvalidOperationException(
            $"{Variable} is not set: these tests need a PostgreSQL server. Run the whole suite with `bash tests/run.sh` (it starts one), " +
            "or start one yourself: eval \"$(bash tests/postgres/pg-start.sh)\" (Debian's postgresql: bash build/install-deps.sh), " +
            "then dotnet test ..., then bash tests/postgres/pg-stop.sh \"$FINEREWARDS_TEST_PG_DIR\"");

    public static async Task<TestPostgres> NewSchemaAsync()
    {
        string server = Server, schema = "test_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(server, $"CREATE SCHEMA {schema}");
        return new TestPostgres(server, schema);
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
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(server, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
    }
}
