using System.Globalization;
using FineRewards.Server.Jobs;
using Microsoft.Data.Sqlite;

namespace FineRewards.Server.Storage;

/// <summary>A job as stored: its spec, state and every event so far.</summary>
public sealed record StoredJob(string Id, string ClientId, GenerationJobSpec Spec, string SpecHash, long BaseSeed,
    JobState State, DateTimeOffset Created, IReadOnlyList<JobEvent> Events);

public enum FeedbackKind { Accepted, Rejected, Edited }

public sealed record FeedbackRecord(string Id, string UserId, string ProfileId, FeedbackKind Kind, string Prompt,
    string ImageId, string? JobId, int? CandidateIndex, DateTimeOffset Time);

/// <summary>
/// The host's SQLite file (WAL, synchronous=FULL: a commit is on disk when it returns, so what the
/// host acknowledged survives a crash). One connection, used under a lock: the host writes a few
/// rows per event, far below what serialising them costs.
/// </summary>
public sealed class HostDatabase : IDisposable
{
    readonly SqliteConnection connection;
    readonly object gate = new();

    public HostDatabase(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
        Execute("""
            CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY, client_id TEXT NOT NULL, spec_json TEXT NOT NULL, spec_hash TEXT NOT NULL,
                base_seed INTEGER NOT NULL, state TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS job_events (
                job_id TEXT NOT NULL REFERENCES jobs(id), sequence INTEGER NOT NULL, time TEXT NOT NULL, data_json TEXT NOT NULL,
                PRIMARY KEY (job_id, sequence));
            CREATE TABLE IF NOT EXISTS feedback (
                id TEXT PRIMARY KEY, user_id TEXT NOT NULL, profile_id TEXT NOT NULL, kind TEXT NOT NULL, prompt TEXT NOT NULL,
                image_id TEXT NOT NULL, job_id TEXT, candidate_index INTEGER, time TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS feedback_profile ON feedback(profile_id, time);
            """);
    }

    void Execute(string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    static string Time(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);
    static DateTimeOffset ParseTime(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    /// <summary>Stores a new job with its first event, in one transaction.</summary>
    public void InsertJob(string id, string clientId, GenerationJobSpec spec, string specHash, long baseSeed, DateTimeOffset created, JobEvent first)
    {
        lock (gate)
        {
            using var tx = connection.BeginTransaction();
            using (var c = Command(connection, tx, "INSERT INTO jobs VALUES ($id, $client, $spec, $hash, $seed, $state, $created)",
                       ("$id", id), ("$client", clientId), ("$spec", spec.ToJson()), ("$hash", specHash), ("$seed", baseSeed),
                       ("$state", (first.Data.NewState ?? JobState.Queued).ToString()), ("$created", Time(created))))
                c.ExecuteNonQuery();
            InsertEvent(tx, first);
            tx.Commit();
        }
    }

    /// <summary>Appends an event and moves the job to the state it implies, in one transaction.</summary>
    public void AppendEvent(JobEvent e) => AppendEvents([e]);

    /// <summary>Appends events (one job's, in order) and moves the job to the state they imply, in one transaction.</summary>
    public void AppendEvents(IReadOnlyList<JobEvent> events)
    {
        lock (gate)
        {
            using var tx = connection.BeginTransaction();
            foreach (var e in events)
            {
                InsertEvent(tx, e);
                if (e.Data.NewState is JobState state)
                    using (var c = Command(connection, tx, "UPDATE jobs SET state = $state WHERE id = $id", ("$state", state.ToString()), ("$id", e.JobId)))
                        c.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    void InsertEvent(SqliteTransaction tx, JobEvent e)
    {
        using var c = Command(connection, tx, "INSERT INTO job_events VALUES ($job, $seq, $time, $data)",
            ("$job", e.JobId), ("$seq", e.Sequence), ("$time", Time(e.Time)), ("$data", e.Data.ToJson()));
        c.ExecuteNonQuery();
    }

    public StoredJob? LoadJob(string id)
    {
        lock (gate)
        {
            using var c = Command(connection, null, "SELECT client_id, spec_json, spec_hash, base_seed, state, created FROM jobs WHERE id = $id", ("$id", id));
            using var r = c.ExecuteReader();
            if (!r.Read()) return null;
            var job = new StoredJob(id, r.GetString(0), GenerationJobSpec.FromJson(r.GetString(1)), r.GetString(2), r.GetInt64(3),
                Enum.Parse<JobState>(r.GetString(4)), ParseTime(r.GetString(5)), []);
            return job with { Events = LoadEvents(id) };
        }
    }

    List<JobEvent> LoadEvents(string id)
    {
        using var c = Command(connection, null, "SELECT sequence, time, data_json FROM job_events WHERE job_id = $id ORDER BY sequence", ("$id", id));
        using var r = c.ExecuteReader();
        var events = new List<JobEvent>();
        while (r.Read()) events.Add(new JobEvent(id, r.GetInt64(0), ParseTime(r.GetString(1)), JobEventData.FromJson(r.GetString(2))));
        return events;
    }

    /// <summary>Ids of jobs that were queued or running when the host last stopped.</summary>
    public IReadOnlyList<string> UnfinishedJobIds()
    {
        lock (gate)
        {
            using var c = Command(connection, null, "SELECT id FROM jobs WHERE state IN ($q, $r) ORDER BY created",
                ("$q", JobState.Queued.ToString()), ("$r", JobState.Running.ToString()));
            using var r = c.ExecuteReader();
            var ids = new List<string>();
            while (r.Read()) ids.Add(r.GetString(0));
            return ids;
        }
    }

    /// <summary>Stores feedback unless its id is known; returns the stored record (the old one when it was).</summary>
    public (FeedbackRecord Stored, bool Existing) InsertFeedback(FeedbackRecord f)
    {
        lock (gate)
        {
            var existing = LoadFeedback("id = $id", ("$id", f.Id)).FirstOrDefault();
            if (existing is not null) return (existing, true);
            using var c = Command(connection, null, "INSERT INTO feedback VALUES ($id, $user, $profile, $kind, $prompt, $image, $job, $index, $time)",
                ("$id", f.Id), ("$user", f.UserId), ("$profile", f.ProfileId), ("$kind", f.Kind.ToString()), ("$prompt", f.Prompt),
                ("$image", f.ImageId), ("$job", f.JobId), ("$index", f.CandidateIndex), ("$time", Time(f.Time)));
            c.ExecuteNonQuery();
            return (f, false);
        }
    }

    public IReadOnlyList<FeedbackRecord> FeedbackOf(string profileId)
    {
        lock (gate) return LoadFeedback("profile_id = $p ORDER BY time, id", ("$p", profileId));
    }

    List<FeedbackRecord> LoadFeedback(string where, params (string, object?)[] parameters)
    {
        using var c = Command(connection, null,
            $"SELECT id, user_id, profile_id, kind, prompt, image_id, job_id, candidate_index, time FROM feedback WHERE {where}", parameters);
        using var r = c.ExecuteReader();
        var list = new List<FeedbackRecord>();
        while (r.Read())
            list.Add(new FeedbackRecord(r.GetString(0), r.GetString(1), r.GetString(2), Enum.Parse<FeedbackKind>(r.GetString(3)), r.GetString(4),
                r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetInt32(7), ParseTime(r.GetString(8))));
        return list;
    }

    public void Dispose()
    {
        lock (gate) connection.Dispose();
    }
}
