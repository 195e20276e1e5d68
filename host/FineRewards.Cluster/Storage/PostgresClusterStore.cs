using System.Text.Json;
using System.Text.Json.Serialization;
using FineRewards.Cluster.Jobs;
using FineRewards.Cluster.Scheduling;
using FineRewards.Server.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace FineRewards.Cluster.Storage;

/// <summary>
/// The shared tables in PostgreSQL (deploy/postgres/finerewards-cluster.sql), for silos on several
/// machines. Each write is one transaction committed before the call returns, with
/// <c>synchronous_commit=on</c> forced on every connection, so an acknowledged job or event survives
/// the loss of any silo and of the database server's process. Times keep PostgreSQL's microseconds.
/// </summary>
public sealed partial class PostgresClusterStore : IClusterStore, IAsyncDisposable, IDisposable
{
    const string SchedulerId = "cluster";
    // pg_advisory_xact_lock key: silos starting together apply the schema one at a time
    // (concurrent CREATE TABLE IF NOT EXISTS can collide in PostgreSQL's catalog).
    const long SchemaLock = 0x4652_4557_5343_484D;

    static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    readonly NpgsqlDataSource db;

    /// <summary>Where the store is, for messages: host:port/database (never the password).</summary>
    public string Where { get; }

    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=db;Port=5432;Database=finerewards;Username=fr;Password=…</c>.</param>
    /// <exception cref="ArgumentException">The connection string does not parse or names no host.</exception>
    public PostgresClusterStore(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(ConnectionString(connectionString));
        // Acknowledged data must be durable even where the server's default says otherwise.
        builder.ConnectionStringBuilder.Options = $"{builder.ConnectionStringBuilder.Options} -c synchronous_commit=on".Trim();
        // The same few statements run for every event: prepared once per connection, not parsed each time.
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0) builder.ConnectionStringBuilder.MaxAutoPrepare = 16;
        Where = $"{builder.ConnectionStringBuilder.Host}:{builder.ConnectionStringBuilder.Port}/{builder.ConnectionStringBuilder.Database}";
        db = builder.Build();
    }

    /// <summary>Checks an Npgsql connection string; returns it unchanged.</summary>
    /// <exception cref="ArgumentException">Naming the connection string and what is wrong with it.</exception>
    public static string ConnectionString(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ArgumentException("PostgreSQL connection string is empty; expected e.g. Host=db;Port=5432;Database=finerewards;Username=fr;Password=...", nameof(connectionString));
        NpgsqlConnectionStringBuilder parsed;
        try { parsed = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException($"PostgreSQL connection string does not parse: {e.Message}", nameof(connectionString), e);
        }
        if (string.IsNullOrWhiteSpace(parsed.Host))
            throw new ArgumentException("PostgreSQL connection string names no Host", nameof(connectionString));
        return connectionString;
    }

    /// <summary>
    /// Creates the tables that do not exist yet (the project's script, embedded from deploy/postgres/);
    /// safe to call from every silo at start, concurrently.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database cannot be reached or refuses the script, saying which.</exception>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
            {
                lockCommand.Parameters.AddWithValue("key", SchemaLock);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var schema = new NpgsqlCommand(SchemaScript(), connection, transaction))
                await schema.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            throw new InvalidOperationException($"PostgreSQL {Where}: could not create the cluster's tables (deploy/postgres/finerewards-cluster.sql): {e.Message}", e);
        }
    }

    /// <summary>deploy/postgres/finerewards-cluster.sql, embedded in this assembly.</summary>
    public static string SchemaScript()
    {
        using var stream = typeof(PostgresClusterStore).Assembly.GetManifestResourceStream("FineRewards.Cluster.finerewards-cluster.sql")
            ?? throw new InvalidOperationException("finerewards-cluster.sql is not embedded in FineRewards.Cluster");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    internal NpgsqlDataSource DataSource => db;

    public async Task<bool> InsertJobAsync(JobRecord job, ClusterEvent first)
    {
        await using var connection = await db.OpenConnectionAsync();
        // One statement, so one round trip and one commit: the event is inserted only with the job, and
        // neither when the id is taken.
        await using var insert = new NpgsqlCommand("""
            WITH job AS (
                INSERT INTO finerewards_jobs (job_id, kind, client_id, spec_json, spec_hash, base_seed, pack, lora_key, created)
                VALUES (@id, @kind, @client, @spec, @hash, @seed, @pack, @loras, @created)
                ON CONFLICT (job_id) DO NOTHING
                RETURNING job_id)
            INSERT INTO finerewards_job_events (job_id, sequence, time, event_json, once_key, new_state)
            SELECT job.job_id, @sequence, @time, @json, @onceKey, @state FROM job
            """, connection);
        insert.Parameters.AddWithValue("id", job.Id);
        insert.Parameters.AddWithValue("kind", job.Kind.ToString());
        insert.Parameters.AddWithValue("client", job.ClientId);
        insert.Parameters.AddWithValue("spec", job.SpecJson);
        insert.Parameters.AddWithValue("hash", job.SpecHash);
        insert.Parameters.AddWithValue("seed", job.BaseSeed);
        insert.Parameters.AddWithValue("pack", job.Pack);
        insert.Parameters.AddWithValue("loras", job.LoraKey);
        insert.Parameters.AddWithValue("created", job.Created.ToUniversalTime());
        insert.Parameters.AddWithValue("sequence", first.Sequence);
        insert.Parameters.AddWithValue("time", first.Time.ToUniversalTime());
        insert.Parameters.AddWithValue("json", first.Json);
        insert.Parameters.AddWithValue("onceKey", first.OnceKey);
        insert.Parameters.Add(new NpgsqlParameter("state", NpgsqlDbType.Text) { Value = (object?)first.NewState?.ToString() ?? DBNull.Value });
        return await insert.ExecuteNonQueryAsync() == 1;
    }

    public async Task<(JobRecord Job, IReadOnlyList<ClusterEvent> Events)?> LoadJobAsync(string jobId)
    {
        await using var connection = await db.OpenConnectionAsync();
        JobRecord job;
        await using (var select = new NpgsqlCommand("""
            SELECT kind, client_id, spec_json, spec_hash, base_seed, pack, lora_key, created
            FROM finerewards_jobs WHERE job_id = @id
            """, connection))
        {
            select.Parameters.AddWithValue("id", jobId);
            await using var row = await select.ExecuteReaderAsync();
            if (!await row.ReadAsync()) return null;
            job = new JobRecord(jobId, Enum.Parse<WorkKind>(row.GetString(0)), row.GetString(1), row.GetString(2), row.GetString(3),
                row.GetInt64(4), row.GetString(5), row.GetString(6), row.GetFieldValue<DateTimeOffset>(7));
        }
        var events = new List<ClusterEvent>();
        await using (var select = new NpgsqlCommand("""
            SELECT sequence, time, event_json, once_key, new_state
            FROM finerewards_job_events WHERE job_id = @id ORDER BY sequence
            """, connection))
        {
            select.Parameters.AddWithValue("id", jobId);
            await using var rows = await select.ExecuteReaderAsync();
            while (await rows.ReadAsync())
                events.Add(new ClusterEvent(rows.GetInt64(0), rows.GetFieldValue<DateTimeOffset>(1), rows.GetString(2), rows.GetString(3),
                    rows.IsDBNull(4) ? null : Enum.Parse<JobState>(rows.GetString(4))));
        }
        return (job, events);
    }

    public async Task AppendEventsAsync(string jobId, IReadOnlyList<ClusterEvent> events)
    {
        if (events.Count == 0) return;
        await using var connection = await db.OpenConnectionAsync();
        // One statement (one round trip, one commit, the batch stored whole or not at all) that inserts only
        // when the job exists and the batch follows its last event; the primary key refuses a repeat that
        // another writer stored at the same moment.
        await using var insert = new NpgsqlCommand("""
            INSERT INTO finerewards_job_events (job_id, sequence, time, event_json, once_key, new_state)
            SELECT @id, e.* FROM unnest(@sequences, @times, @jsons, @onceKeys, @states) AS e
            WHERE EXISTS (SELECT 1 FROM finerewards_jobs WHERE job_id = @id)
              AND (SELECT coalesce(max(sequence), 0) FROM finerewards_job_events WHERE job_id = @id) = @after
            """, connection);
        insert.Parameters.AddWithValue("id", jobId);
        insert.Parameters.AddWithValue("after", events[0].Sequence - 1);
        insert.Parameters.AddWithValue("sequences", events.Select(e => e.Sequence).ToArray());
        insert.Parameters.AddWithValue("times", events.Select(e => e.Time.ToUniversalTime()).ToArray());
        insert.Parameters.AddWithValue("jsons", events.Select(e => e.Json).ToArray());
        insert.Parameters.AddWithValue("onceKeys", events.Select(e => e.OnceKey).ToArray());
        insert.Parameters.Add(new NpgsqlParameter("states", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = events.Select(e => e.NewState?.ToString()).ToArray(),
        });
        int inserted;
        try { inserted = await insert.ExecuteNonQueryAsync(); }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException($"job {jobId}: event {events[0].Sequence} is already stored", e);
        }
        if (inserted == events.Count) return;

        // Nothing was stored: say why.
        await using var select = new NpgsqlCommand("""
            SELECT coalesce(max(e.sequence), 0)
            FROM finerewards_jobs j LEFT JOIN finerewards_job_events e ON e.job_id = j.job_id
            WHERE j.job_id = @id GROUP BY j.job_id
            """, connection);
        select.Parameters.AddWithValue("id", jobId);
        long? last = (long?)await select.ExecuteScalarAsync();
        throw last is null
            ? new InvalidOperationException($"job {jobId} is not stored")
            : new InvalidOperationException($"job {jobId}: event {events[0].Sequence} does not follow {last}");
    }

    public async Task SaveSchedulerAsync(SchedulerSnapshot snapshot)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var upsert = new NpgsqlCommand("""
            INSERT INTO finerewards_scheduler (scheduler_id, snapshot, saved) VALUES (@id, @snapshot, now())
            ON CONFLICT (scheduler_id) DO UPDATE SET snapshot = excluded.snapshot, saved = excluded.saved
            """, connection);
        upsert.Parameters.AddWithValue("id", SchedulerId);
        upsert.Parameters.Add(new NpgsqlParameter("snapshot", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(snapshot, Json) });
        await upsert.ExecuteNonQueryAsync();
    }

    public async Task<SchedulerSnapshot?> LoadSchedulerAsync()
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var select = new NpgsqlCommand("SELECT snapshot::text FROM finerewards_scheduler WHERE scheduler_id = @id", connection);
        select.Parameters.AddWithValue("id", SchedulerId);
        return await select.ExecuteScalarAsync() is string json ? JsonSerializer.Deserialize<SchedulerSnapshot>(json, Json) : null;
    }

    public ValueTask DisposeAsync() => db.DisposeAsync();

    public void Dispose() => db.Dispose();
}
