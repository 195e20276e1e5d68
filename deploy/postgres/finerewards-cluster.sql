-- FineRewards cluster: the host's own shared tables (docs/cluster.md), beside Orleans' membership
-- tables. Idempotent: every silo applies it at start (PostgresClusterStore.EnsureSchemaAsync, under an
-- advisory lock), and an administrator can apply it by hand first:
--   psql "host=H port=P dbname=D user=U" -v ON_ERROR_STOP=1 -f deploy/postgres/finerewards-cluster.sql
-- Times are timestamptz (microseconds, UTC); event and spec bodies are the host's own JSON.

-- A job, generation or training, as submitted: spec_json is the host's spec, base_seed the seed its
-- candidates derive from (a re-run on another worker uses the same one).
CREATE TABLE IF NOT EXISTS finerewards_jobs (
    job_id     text        PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('Generation', 'Training')),
    client_id  text        NOT NULL,
    spec_json  text        NOT NULL,
    spec_hash  text        NOT NULL,
    base_seed  bigint      NOT NULL,
    pack       text        NOT NULL,
    lora_key   text        NOT NULL,
    created    timestamptz NOT NULL
);

-- A job's numbered events: the primary key stores an event once; the store refuses a gap.
CREATE TABLE IF NOT EXISTS finerewards_job_events (
    job_id     text        NOT NULL REFERENCES finerewards_jobs (job_id),
    sequence   bigint      NOT NULL CHECK (sequence > 0),
    time       timestamptz NOT NULL,
    event_json text        NOT NULL,
    once_key   text        NOT NULL,
    new_state  text        NULL CHECK (new_state IN ('Queued', 'Running', 'Completed', 'Failed', 'Cancelled')),
    PRIMARY KEY (job_id, sequence)
);

-- LoRAs trained by a worker, each a file in the shared folder named by its SHA-256.
CREATE TABLE IF NOT EXISTS finerewards_loras (
    lora_id    text        PRIMARY KEY,
    pack       text        NOT NULL,
    path       text        NOT NULL,
    sha256     text        NOT NULL,
    trained_by text        NOT NULL,
    created    timestamptz NOT NULL
);

-- The scheduler's queue (waiting and running jobs, next seeds): one row per scheduler key, replaced
-- on every change, so a scheduler activated on another silo continues from it.
CREATE TABLE IF NOT EXISTS finerewards_scheduler (
    scheduler_id text        PRIMARY KEY,
    snapshot     jsonb       NOT NULL,
    saved        timestamptz NOT NULL
);

-- The registry's evidence and activation (added with training through the cluster; ALTER, so a database
-- made by an earlier version gains them): the profile the LoRA learned, whether it is the profile's active
-- one (at most one is), the run's metrics and the check against the base model (the host's own JSON).
ALTER TABLE finerewards_loras ADD COLUMN IF NOT EXISTS profile_id      text    NOT NULL DEFAULT '';
ALTER TABLE finerewards_loras ADD COLUMN IF NOT EXISTS active          boolean NOT NULL DEFAULT false;
ALTER TABLE finerewards_loras ADD COLUMN IF NOT EXISTS metrics_json    text    NOT NULL DEFAULT '{}';
ALTER TABLE finerewards_loras ADD COLUMN IF NOT EXISTS evaluation_json text    NULL;
CREATE INDEX IF NOT EXISTS finerewards_loras_profile ON finerewards_loras (profile_id, created);

-- Users' feedback (accepted, rejected, edited images; training data for a profile), as one host keeps it in
-- SQLite: the image is in the shared folder's images/, the job and candidate it answers when it names one.
CREATE TABLE IF NOT EXISTS finerewards_feedback (
    feedback_id     text        PRIMARY KEY,
    user_id         text        NOT NULL,
    profile_id      text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('Accepted', 'Rejected', 'Edited')),
    prompt          text        NOT NULL,
    image_id        text        NOT NULL,
    job_id          text        NULL,
    candidate_index integer     NULL,
    time            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS finerewards_feedback_profile ON finerewards_feedback (profile_id, time);
