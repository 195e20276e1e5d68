using System.Globalization;
using FineRewards.Server.Jobs;
using Microsoft.Data.Sqlite;

namespace FineRewards.Server.Storage;

/// <summary>
/// One connection to the host's SQLite file, as every store opens it: WAL (stores share the file, each on its own
/// connection), synchronous=FULL (a commit is on disk when it returns, so what the host acknowledged survives a
/// crash), one connection used under <see cref="Gate"/>: the host writes a few rows per event, far below what
/// serialising them costs.
/// </summary>
public abstract class SqliteStore : IDisposable
{
    protected readonly SqliteConnection Connection;
    protected readonly object Gate = new();

    /// <param name="schema">CREATE ... IF NOT EXISTS statements of the store's tables.</param>
    protected SqliteStore(string path, string schema)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        Connection.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
        Execute(schema);
    }

    protected void Execute(string sql)
    {
        using var command = Connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>A command with named parameters (null stored as SQL NULL).</summary>
    protected SqliteCommand Command(SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = Connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    protected static string Time(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);
    protected static DateTimeOffset ParseTime(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    /// <summary>Inserts one row of a job's event log (job id, sequence, time, data JSON).</summary>
    protected void InsertEventRow(SqliteTransaction transaction, string table, string jobId, long sequence, DateTimeOffset time, string dataJson)
    {
        using var c = Command(transaction, $"INSERT INTO {table} VALUES ($id, $seq, $time, $data)",
            ("$id", jobId), ("$seq", sequence), ("$time", Time(time)), ("$data", dataJson));
        c.ExecuteNonQuery();
    }

    /// <summary>A job's event rows in sequence order. Caller holds <see cref="Gate"/>.</summary>
    protected List<(long Sequence, DateTimeOffset Time, string Data)> EventRows(string table, string jobColumn, string jobId)
    {
        using var c = Command(null, $"SELECT sequence, time, data_json FROM {table} WHERE {jobColumn} = $id ORDER BY sequence", ("$id", jobId));
        using var r = c.ExecuteReader();
        var rows = new List<(long, DateTimeOffset, string)>();
        while (r.Read()) rows.Add((r.GetInt64(0), ParseTime(r.GetString(1)), r.GetString(2)));
        return rows;
    }

    protected void SetState(SqliteTransaction transaction, string table, string id, JobState state)
    {
        using var c = Command(transaction, $"UPDATE {table} SET state = $state WHERE id = $id", ("$state", state.ToString()), ("$id", id));
        c.ExecuteNonQuery();
    }

    /// <summary>Ids of the rows of <paramref name="table"/> (a jobs table with id, state and created) that were queued or
    /// running when the host last stopped, oldest first.</summary>
    protected IReadOnlyList<string> UnfinishedIds(string table)
    {
        lock (Gate)
        {
            using var c = Command(null, $"SELECT id FROM {table} WHERE state IN ($q, $r) ORDER BY created",
                ("$q", JobState.Queued.ToString()), ("$r", JobState.Running.ToString()));
            using var r = c.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }
    }

    public void Dispose()
    {
        lock (Gate) Connection.Dispose();
        GC.SuppressFinalize(this);
    }
}
