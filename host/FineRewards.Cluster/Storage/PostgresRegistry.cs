using System.Text.Json;
using FineRewards.Server.Storage;
using FineRewards.Server.Training;
using Npgsql;
using NpgsqlTypes;
using FeedbackRecord = FineRewards.Server.Storage.FeedbackRecord;

namespace FineRewards.Cluster.Storage;

// The LoRA registry and the feedback of PostgresClusterStore (tables finerewards_loras and finerewards_feedback).
public sealed partial class PostgresClusterStore
{
    const string LoraColumns = "lora_id, pack, path, sha256, trained_by, created, profile_id, active, metrics_json, evaluation_json";

    static LoraRecord ReadLora(NpgsqlDataReader row) => new(row.GetString(0), row.GetString(1), row.GetString(2), row.GetString(3), row.GetString(4),
        row.GetFieldValue<DateTimeOffset>(5), row.GetString(6), row.GetBoolean(7),
        // None stored reads back as none (null), as the in-memory store gives it.
        JsonSerializer.Deserialize<Dictionary<string, double>>(row.GetString(8)) is { Count: > 0 } metrics ? metrics : null,
        row.IsDBNull(9) ? null : JsonSerializer.Deserialize<LoraEvaluation>(row.GetString(9)));

    static async Task<List<LoraRecord>> ReadLorasAsync(NpgsqlCommand command)
    {
        await using var rows = await command.ExecuteReaderAsync();
        var loras = new List<LoraRecord>();
        while (await rows.ReadAsync()) loras.Add(ReadLora(rows));
        return loras;
    }

    public async Task RegisterLoraAsync(LoraRecord lora)
    {
        await using var connection = await db.OpenConnectionAsync();
        // One statement: an active LoRA replaces its profile's active one together with its own row, and a
        // LoRA registered again under its id replaces the row, as the in-memory store does.
        await using var upsert = new NpgsqlCommand($"""
            WITH others AS (
                UPDATE finerewards_loras SET active = false
                WHERE @active AND profile_id = @profile AND lora_id <> @id AND active)
            INSERT INTO finerewards_loras ({LoraColumns})
            VALUES (@id, @pack, @path, @sha, @by, @created, @profile, @active, @metrics, @evaluation)
            ON CONFLICT (lora_id) DO UPDATE SET pack = excluded.pack, path = excluded.path, sha256 = excluded.sha256,
                trained_by = excluded.trained_by, created = excluded.created, profile_id = excluded.profile_id, active = excluded.active,
                metrics_json = excluded.metrics_json, evaluation_json = excluded.evaluation_json
            """, connection);
        upsert.Parameters.AddWithValue("id", lora.Id);
        upsert.Parameters.AddWithValue("pack", lora.Pack);
        upsert.Parameters.AddWithValue("path", lora.Path);
        upsert.Parameters.AddWithValue("sha", lora.Sha256);
        upsert.Parameters.AddWithValue("by", lora.TrainedBy);
        upsert.Parameters.AddWithValue("created", lora.Created.ToUniversalTime());
        upsert.Parameters.AddWithValue("profile", lora.ProfileId);
        upsert.Parameters.AddWithValue("active", lora.Active);
        upsert.Parameters.AddWithValue("metrics", JsonSerializer.Serialize(lora.Metrics ?? new Dictionary<string, double>()));
        upsert.Parameters.Add(new NpgsqlParameter("evaluation", NpgsqlDbType.Text)
        {
            Value = lora.Evaluation is null ? DBNull.Value : JsonSerializer.Serialize(lora.Evaluation),
        });
        await upsert.ExecuteNonQueryAsync();
    }

    public async Task<LoraRecord?> FindLoraAsync(string id)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var select = new NpgsqlCommand($"SELECT {LoraColumns} FROM finerewards_loras WHERE lora_id = @id", connection);
        select.Parameters.AddWithValue("id", id);
        return (await ReadLorasAsync(select)).SingleOrDefault();
    }

    public async Task<IReadOnlyList<LoraRecord>> ListLorasAsync(string? profileId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var select = new NpgsqlCommand($"""
            SELECT {LoraColumns} FROM finerewards_loras
            WHERE @profile IS NULL OR profile_id = @profile ORDER BY created DESC, lora_id
            """, connection);
        select.Parameters.Add(new NpgsqlParameter("profile", NpgsqlDbType.Text) { Value = (object?)profileId ?? DBNull.Value });
        return await ReadLorasAsync(select);
    }

    public async Task<LoraRecord?> ActivateLoraAsync(string id)
    {
        await using var connection = await db.OpenConnectionAsync();
        // One statement: the profile's LoRAs, this one active and the others not.
        await using var update = new NpgsqlCommand($"""
            UPDATE finerewards_loras SET active = (lora_id = @id)
            WHERE profile_id = (SELECT profile_id FROM finerewards_loras WHERE lora_id = @id)
            RETURNING {LoraColumns}
            """, connection);
        update.Parameters.AddWithValue("id", id);
        return (await ReadLorasAsync(update)).SingleOrDefault(l => l.Id == id);
    }

    public async Task<LoraRecord?> DeleteLoraAsync(string id)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var delete = new NpgsqlCommand($"DELETE FROM finerewards_loras WHERE lora_id = @id RETURNING {LoraColumns}", connection);
        delete.Parameters.AddWithValue("id", id);
        return (await ReadLorasAsync(delete)).SingleOrDefault();
    }

    const string FeedbackColumns = "feedback_id, user_id, profile_id, kind, prompt, image_id, job_id, candidate_index, time";

    public async Task<(FeedbackRecord Stored, bool Existing)> InsertFeedbackAsync(FeedbackRecord f)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO finerewards_feedback ({FeedbackColumns})
            VALUES (@id, @user, @profile, @kind, @prompt, @image, @job, @index, @time)
            ON CONFLICT (feedback_id) DO NOTHING
            """, connection))
        {
            insert.Parameters.AddWithValue("id", f.Id);
            insert.Parameters.AddWithValue("user", f.UserId);
            insert.Parameters.AddWithValue("profile", f.ProfileId);
            insert.Parameters.AddWithValue("kind", f.Kind.ToString());
            insert.Parameters.AddWithValue("prompt", f.Prompt);
            insert.Parameters.AddWithValue("image", f.ImageId);
            insert.Parameters.Add(new NpgsqlParameter("job", NpgsqlDbType.Text) { Value = (object?)f.JobId ?? DBNull.Value });
            insert.Parameters.Add(new NpgsqlParameter("index", NpgsqlDbType.Integer) { Value = (object?)f.CandidateIndex ?? DBNull.Value });
            insert.Parameters.AddWithValue("time", f.Time.ToUniversalTime());
            if (await insert.ExecuteNonQueryAsync() == 1) return (f, false);
        }
        await using var select = new NpgsqlCommand($"SELECT {FeedbackColumns} FROM finerewards_feedback WHERE feedback_id = @id", connection);
        select.Parameters.AddWithValue("id", f.Id);
        return ((await ReadFeedbackAsync(select)).Single(), true);
    }

    public async Task<IReadOnlyList<FeedbackRecord>> FeedbackOfAsync(string profileId)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var select = new NpgsqlCommand($"SELECT {FeedbackColumns} FROM finerewards_feedback WHERE profile_id = @profile ORDER BY time, feedback_id", connection);
        select.Parameters.AddWithValue("profile", profileId);
        return await ReadFeedbackAsync(select);
    }

    static async Task<List<FeedbackRecord>> ReadFeedbackAsync(NpgsqlCommand command)
    {
        await using var rows = await command.ExecuteReaderAsync();
        var list = new List<FeedbackRecord>();
        while (await rows.ReadAsync())
            list.Add(new FeedbackRecord(rows.GetString(0), rows.GetString(1), rows.GetString(2), Enum.Parse<FeedbackKind>(rows.GetString(3)), rows.GetString(4),
                rows.GetString(5), rows.IsDBNull(6) ? null : rows.GetString(6), rows.IsDBNull(7) ? null : rows.GetInt32(7), rows.GetFieldValue<DateTimeOffset>(8)));
        return list;
    }
}
