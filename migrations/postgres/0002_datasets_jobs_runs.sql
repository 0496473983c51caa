-- PostgreSQL twin of migrations/sqlite/0002_datasets_jobs_runs.sql: the same tables, columns, keys and
-- checks with the same meaning; only the types are PostgreSQL's (BIGINT for
-- INTEGER, BYTEA for BLOB, DOUBLE PRECISION for REAL). Comments below are the
-- SQLite file's.
--
-- Datasets, the training-job queue, and runs with their metrics (issue 5).
--
-- Identifiers are UUIDs in TEXT and timestamps are RFC 3339 UTC strings in
-- TEXT (`2026-11-26T23:01:02.345Z`): both compare and sort correctly as text,
-- and both carry over to PostgreSQL unchanged, which a later issue adds.
-- JSON documents (layouts, configs, progress, metrics) are TEXT holding JSON;
-- the application parses them, SQL never looks inside.

-- One uploaded dataset. Deleting a dataset that jobs have used removes its
-- essays and prompts (the bulk, and the students' writing) but keeps this row
-- as a tombstone (`deleted_at` set) so that runs and models still say what
-- they were trained on: name, row count, targets.
CREATE TABLE datasets (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    -- The column mapping the CSVs were read with (training::DatasetLayout as JSON).
    layout      TEXT NOT NULL,
    -- JSON array of the target names, in the order of dataset_essays.targets.
    targets     TEXT NOT NULL,
    -- JSON score grid for ordinal targets, or NULL for continuous ones.
    score_grid  TEXT,
    row_count   BIGINT NOT NULL CHECK (row_count >= 0),
    prompt_count BIGINT NOT NULL CHECK (prompt_count >= 0),
    -- JSON array of the non-fatal problems found while reading (skipped rows etc.).
    problems    TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);

-- The prompts (source texts) of a dataset, keyed by the dataset's own prompt id.
CREATE TABLE dataset_prompts (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    prompt_id   TEXT NOT NULL,
    title       TEXT NOT NULL,
    question    TEXT NOT NULL,
    text        TEXT NOT NULL,
    PRIMARY KEY (dataset_id, prompt_id)
);

-- The essays of a dataset, in file order (`row_no`), with their targets as a
-- JSON array of numbers aligned with datasets.targets.
CREATE TABLE dataset_essays (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    row_no      BIGINT NOT NULL,
    essay_id    TEXT NOT NULL,
    prompt_id   TEXT NOT NULL,
    text        TEXT NOT NULL,
    targets     TEXT NOT NULL,
    PRIMARY KEY (dataset_id, row_no)
);

-- The durable job queue. A job is claimed by flipping `queued` to `running`
-- in one UPDATE, so two workers can never both take it. `attempts` counts
-- claims that did not end cleanly: a crash leaves the row `running`, start-up
-- requeues it keeping the count, and the third such attempt fails the job.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('train', 'cv', 'sweep')),
    dataset_id  TEXT NOT NULL REFERENCES datasets (id),
    -- The config as submitted (partial, merged over the default when run).
    config      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    -- Set by POST /jobs/{id}/cancel; the running worker sees it on its next heartbeat.
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    -- Latest progress as JSON ({fold, folds, epoch, epochs, train_loss, val_loss, eta_s}),
    -- persisted at most once a second.
    progress    TEXT,
    error       TEXT,
    -- The run this job writes; created together with the job.
    run_id      TEXT NOT NULL,
    -- The model version a successful train job registered.
    model_id    TEXT,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    heartbeat_at TEXT
);

-- Claiming takes the oldest queued job; this index makes that a seek.
CREATE INDEX jobs_by_status ON jobs (status, created_at);

-- A run in the manner of MLflow: what was run (kind, config, dataset), its
-- final metrics and its timings. The per-epoch history is in run_metrics.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY NOT NULL,
    job_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    dataset_id  TEXT NOT NULL REFERENCES datasets (id),
    -- The full, validated config the run used (the default merged with the request).
    config      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued',
    -- Final metrics as JSON, e.g. {"mcrmse": 0.51, "targets": {"content": {"rmse": ...}}}.
    metrics     TEXT,
    -- Timings as JSON, e.g. {"seconds": 12.5, "queued_s": 0.2}.
    timings     TEXT,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);

-- One metric sample: (name, step, value, timestamp), as MLflow logs them.
-- Per-fold curves use names like `fold_1/train_loss`; `step` is the epoch.
CREATE TABLE run_metrics (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    step        BIGINT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    timestamp   TEXT NOT NULL,
    -- Insertion order, for samples of equal name and step: SQLite has its
    -- implicit rowid for that, PostgreSQL needs a column.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX run_metrics_by_run ON run_metrics (run_id, name, step);
