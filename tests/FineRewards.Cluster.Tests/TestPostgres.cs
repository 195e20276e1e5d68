using FineRewards.Cluster.Storage;

namespace FineRewards.Cluster.Tests;

/// <summary>
/// The PostgreSQL server of the test run (FINEREWARDS_TEST_PG, an Npgsql connection string; tests/run.sh
/// starts one with tests/postgres/pg-start.sh). Each user gets a schema of its own, dropped at the end,
/// so tests never see each other's rows and a developer's database is left as it was.
/// </summary>
public static class TestPostgres
{
    public const string Variable = "FINEREWARDS_TEST_PG";

    /// <summary>A PostgreSQL test fails, never skips, without a server: it says how to start one.</summary>
    public static string Server => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } s ? s
        : throw new InvalidOperationException(
            $"{Variable} is not set: these tests need a PostgreSQL server. Run the whole suite with `bash tests/run.sh` (it starts one), " +
            "or start one yourself: eval \"$(bash tests/postgres/pg-start.sh)\" (Debian's postgresql: bash build/install-deps.sh), " +
            "then dotnet test ..., then bash tests/postgres/pg-stop.sh \"$FINEREWARDS_TEST_PG_DIR\"");

    public static Task<PostgresSchema> NewSchemaAsync() => PostgresSchema.CreateAsync(Server, "test");
}
