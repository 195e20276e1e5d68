using FineRewards.Server.Jobs;
using Microsoft.Data.Sqlite;

namespace FineRewards.Server.Storage;

/// <summary>A job as stored: its spec, state and every event so far.</summary>
public sealed record StoredJob(string Id, string ClientId, GenerationJobSpec Spec, string SpecHash, long BaseSeed,
    JobState State, DateTimeOffset Created, IReadOnlyList<JobEvent> Events);

public enum FeedbackKind { Accepted, Rejected, Edited }

public sealed record FeedbackRecord(string Id, string UserId, string ProfileId, FeedbackKind Kind, string Prompt,
    string ImageId, string? JobId, int? CandidateIndex, DateTimeOffset Time);

/// <summary>Generation jobs, their events and feedback in the host's SQLite file (<see cref="SqliteStore"/>).</summary>
public sealed class HostDatabase(string path) : SqliteStore(path, """
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
    """)
{
    /// <summary>Stores a new job with its first event, in one transaction.</summary>
    public void InsertJob(string id, string clientId, GenerationJobSpec spec, string specHash, long baseSeed, DateTimeOffset created, JobEvent first)
    {
        lock (Gate)
        {
            using var tx = Connection.BeginTransaction();
            using (var c = Command(tx, "INSERT INTO jobs VALUES ($id, $client, $spec, $hash, $seed, $state, $created)",
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
        lock (Gate)
        {
            using var tx = Connection.BeginTransaction();
            foreach (var e in events)
            {
                InsertEvent(tx, e);
                if (e.Data.NewState is JobState state) SetState(tx, "jobs", e.JobId, state);
            }
            tx.Commit();
        }
    }

    void InsertEvent(SqliteTransaction tx, JobEvent e) => InsertEventRow(tx, "job_events", e.JobId, e.Sequence, e.Time, e.Data.ToJson());

    public StoredJob? LoadJob(string id)
    {
        lock (Gate)
        {
            using var c = Command(null, "SELECT client_id, spec_json, spec_hash, base_seed, state, created FROM jobs WHERE id = $id", ("$id", id));
            using var r = c.ExecuteReader();
            if (!r.Read()) return null;
            var job = new StoredJob(id, r.GetString(0), GenerationJobSpec.FromJson(r.GetString(1)), r.GetString(2), r.GetInt64(3),
                Enum.Parse<JobState>(r.GetString(4)), ParseTime(r.GetString(5)), []);
            return job with { Events = EventRows("job_events", "job_id", id).Select(e => new JobEvent(id, e.Sequence, e.Time, JobEventData.FromJson(e.Data))).ToList() };
        }
    }

    /// <summary>Ids of jobs that were queued or running when the host last stopped.</summary>
    public IReadOnlyList<string> UnfinishedJobIds() => UnfinishedIds("jobs");

    /// <summary>Stores feedback unless its id is known; returns the stored record (the old one when it was).</summary>
    public (FeedbackRecord Stored, bool Existing) InsertFeedback(FeedbackRecord f)
    {
        lock (Gate)
        {
            var existing = LoadFeedback("id = $id", ("$id", f.Id)).FirstOrDefault();
            if (existing is not null) return (existing, true);
            using var c = Command(null, "INSERT INTO feedback VALUES ($id, $user, $profile, $kind, $prompt, $image, $job, $index, $time)",
                ("$id", f.Id), ("$user", f.UserId), ("$profile", f.ProfileId), ("$kind", f.Kind.ToString()), ("$prompt", f.Prompt),
                ("$image", f.ImageId), ("$job", f.JobId), ("$index", f.CandidateIndex), ("$time", Time(f.Time)));
            c.ExecuteNonQuery();
            return (f, false);
        }
    }

    public IReadOnlyList<FeedbackRecord> FeedbackOf(string profileId)
    {
        lock (Gate) return LoadFeedback("profile_id = $p ORDER BY time, id", ("$p", profileId));
    }

    List<FeedbackRecord> LoadFeedback(string where, params (string, object?)[] parameters)
    {
        using var c = Command(null,
            $"SELECT id, user_id, profile_id, kind, prompt, image_id, job_id, candidate_index, time FROM feedback WHERE {where}", parameters);
        using var r = c.ExecuteReader();
        var list = new List<FeedbackRecord>();
        while (r.Read())
            list.Add(new FeedbackRecord(r.GetString(0), r.GetString(1), r.GetString(2), Enum.Parse<FeedbackKind>(r.GetString(3)), r.GetString(4),
                r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetInt32(7), ParseTime(r.GetString(8))));
        return list;
    }
}
