using System.Text.Json;
using FineRewards.Server.Jobs;
using FineRewards.Server.Training;
using Microsoft.Data.Sqlite;

namespace FineRewards.Server.Storage;

public sealed record StoredTraining(string Id, string ClientId, TrainingJobSpec Spec, string SpecHash, JobState State, DateTimeOffset Created,
    IReadOnlyList<TrainingEvent> Events);

/// <summary>A trained LoRA as the registry keeps it. Its id is the training job's id.</summary>
/// <param name="Evaluation">The check against the base model after training (null for LoRAs registered before hosts made it).</param>
public sealed record LoraRecord(string Id, string ProfileId, string TrainingId, string Path, string Sha256, DateTimeOffset Created, bool Active,
    IReadOnlyDictionary<string, double> Metrics, LoraEvaluation? Evaluation = null);

/// <summary>
/// Training jobs, their events and the LoRA registry, in the host's SQLite file (its own connection beside
/// <see cref="HostDatabase"/>'s, <see cref="SqliteStore"/>). Same durability: one transaction per change.
/// </summary>
public sealed class TrainingDatabase : SqliteStore
{
    public TrainingDatabase(string path) : base(path, """
        CREATE TABLE IF NOT EXISTS training_jobs (
            id TEXT PRIMARY KEY, client_id TEXT NOT NULL, profile_id TEXT NOT NULL, spec_json TEXT NOT NULL, spec_hash TEXT NOT NULL,
            state TEXT NOT NULL, created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS training_events (
            training_id TEXT NOT NULL REFERENCES training_jobs(id), sequence INTEGER NOT NULL, time TEXT NOT NULL, data_json TEXT NOT NULL,
            PRIMARY KEY (training_id, sequence));
        CREATE TABLE IF NOT EXISTS loras (
            id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, training_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
            created TEXT NOT NULL, active INTEGER NOT NULL, metrics_json TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS loras_profile ON loras(profile_id, created);
        """)
    {
        // Registries made before the LoRA check have no column for it: add it, empty for their LoRAs.
        using (var c = Command(null, "SELECT COUNT(*) FROM pragma_table_info('loras') WHERE name = 'evaluation_json'"))
            if ((long)c.ExecuteScalar()! == 0) Execute("ALTER TABLE loras ADD COLUMN evaluation_json TEXT");
    }

    public void InsertJob(string id, string clientId, TrainingJobSpec spec, string hash, DateTimeOffset created, TrainingEvent first)
    {
        lock (Gate)
        {
            using var tx = Connection.BeginTransaction();
            using (var c = Command(tx, "INSERT INTO training_jobs VALUES ($id, $client, $profile, $spec, $hash, $state, $created)",
                       ("$id", id), ("$client", clientId), ("$profile", spec.ProfileId), ("$spec", spec.ToJson()), ("$hash", hash),
                       ("$state", (first.Data.NewState ?? JobState.Queued).ToString()), ("$created", Time(created))))
                c.ExecuteNonQuery();
            InsertEvent(tx, first);
            tx.Commit();
        }
    }

    public void AppendEvent(TrainingEvent e)
    {
        lock (Gate)
        {
            using var tx = Connection.BeginTransaction();
            InsertEvent(tx, e);
            if (e.Data.NewState is JobState state) SetState(tx, "training_jobs", e.TrainingId, state);
            tx.Commit();
        }
    }

    void InsertEvent(SqliteTransaction tx, TrainingEvent e) => InsertEventRow(tx, "training_events", e.TrainingId, e.Sequence, e.Time, e.Data.ToJson());

    public StoredTraining? LoadJob(string id)
    {
        lock (Gate)
        {
            StoredTraining job;
            using (var c = Command(null, "SELECT client_id, spec_json, spec_hash, state, created FROM training_jobs WHERE id = $id", ("$id", id)))
            using (var r = c.ExecuteReader())
            {
                if (!r.Read()) return null;
                job = new StoredTraining(id, r.GetString(0), TrainingJobSpec.FromJson(r.GetString(1)), r.GetString(2), Enum.Parse<JobState>(r.GetString(3)),
                    ParseTime(r.GetString(4)), []);
            }
            return job with { Events = EventRows("training_events", "training_id", id).Select(e => new TrainingEvent(id, e.Sequence, e.Time, TrainingEventData.FromJson(e.Data))).ToList() };
        }
    }

    public IReadOnlyList<string> UnfinishedJobIds() => UnfinishedIds("training_jobs");

    /// <summary>
    /// Registers a LoRA and stores the job's completed event in one transaction: a completed job always has its LoRA.
    /// An active LoRA becomes its profile's only active one in the same transaction.
    /// </summary>
    public void InsertLora(LoraRecord lora, TrainingEvent completed)
    {
        lock (Gate)
        {
            using var tx = Connection.BeginTransaction();
            if (lora.Active)
                using (var c = Command(tx, "UPDATE loras SET active = 0 WHERE profile_id = $p", ("$p", lora.ProfileId)))
                    c.ExecuteNonQuery();
            using (var c = Command(tx, """
                       INSERT INTO loras (id, profile_id, training_id, path, sha256, created, active, metrics_json, evaluation_json)
                       VALUES ($id, $profile, $training, $path, $sha, $created, $active, $metrics, $evaluation)
                       """,
                       ("$id", lora.Id), ("$profile", lora.ProfileId), ("$training", lora.TrainingId), ("$path", lora.Path), ("$sha", lora.Sha256),
                       ("$created", Time(lora.Created)), ("$active", lora.Active ? 1 : 0), ("$metrics", JsonSerializer.Serialize(lora.Metrics)),
                       ("$evaluation", lora.Evaluation is null ? null : JsonSerializer.Serialize(lora.Evaluation))))
                c.ExecuteNonQuery();
            InsertEvent(tx, completed);
            SetState(tx, "training_jobs", completed.TrainingId, JobState.Completed);
            tx.Commit();
        }
    }

    public IReadOnlyList<LoraRecord> Loras(string? profileId)
    {
        lock (Gate) return profileId is null ? LoadLoras("1 = 1") : LoadLoras("profile_id = $p", ("$p", profileId));
    }

    public LoraRecord? Lora(string id)
    {
        lock (Gate) return LoadLoras("id = $id", ("$id", id)).SingleOrDefault();
    }

    List<LoraRecord> LoadLoras(string where, params (string, object?)[] parameters)
    {
        using var c = Command(null, $"SELECT id, profile_id, training_id, path, sha256, created, active, metrics_json, evaluation_json FROM loras WHERE {where} ORDER BY created DESC, id", parameters);
        using var r = c.ExecuteReader();
        var list = new List<LoraRecord>();
        while (r.Read())
            list.Add(new LoraRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), ParseTime(r.GetString(5)),
                r.GetInt64(6) != 0, JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(7)) ?? [],
                r.IsDBNull(8) ? null : JsonSerializer.Deserialize<LoraEvaluation>(r.GetString(8))));
        return list;
    }

    /// <summary>Makes the LoRA its profile's only active one.</summary>
    public LoraRecord? Activate(string id)
    {
        lock (Gate)
        {
            var lora = LoadLoras("id = $id", ("$id", id)).SingleOrDefault();
            if (lora is null) return null;
            using var tx = Connection.BeginTransaction();
            using (var c = Command(tx, "UPDATE loras SET active = CASE WHEN id = $id THEN 1 ELSE 0 END WHERE profile_id = $p", ("$id", id), ("$p", lora.ProfileId)))
                c.ExecuteNonQuery();
            tx.Commit();
            return lora with { Active = true };
        }
    }

    /// <summary>Removes the row; returns it as it was, or null when there was none.</summary>
    public LoraRecord? DeleteLora(string id)
    {
        lock (Gate)
        {
            var lora = LoadLoras("id = $id", ("$id", id)).SingleOrDefault();
            if (lora is null) return null;
            using var c = Command(null, "DELETE FROM loras WHERE id = $id", ("$id", id));
            c.ExecuteNonQuery();
            return lora;
        }
    }
}
