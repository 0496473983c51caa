-- PostgreSQL twin of migrations/sqlite/0003_examples_calibrations.sql: the same tables, columns, keys and
-- checks with the same meaning; only the types are PostgreSQL's (BIGINT for
-- INTEGER). Comments below are the SQLite file's.
--
-- 0003: a teacher's graded examples per prompt, the model's scores of them,
-- and the calibrations fitted from them (issue 9).
--
-- Examples belong to a prompt and to no model: a teacher's scores stay true
-- whichever model grades. A calibration belongs to a prompt and a model: it
-- is refitted from the examples whenever they change or another model is
-- activated. Same conventions as 0001: TEXT ids and RFC 3339 UTC times, JSON
-- as TEXT.

-- One essay a teacher graded for a prompt. The same essay posted again for
-- the same prompt replaces its scores (the UNIQUE key), so it is one example,
-- not two. Deleting a prompt is not possible, so no cascade from prompts.
CREATE TABLE prompt_examples (
    id            TEXT PRIMARY KEY NOT NULL,
    prompt_id     TEXT NOT NULL REFERENCES prompts (id),
    -- SHA-256 (hex) of the essay with its surrounding white space trimmed:
    -- what "the same essay" means.
    essay_sha256  TEXT NOT NULL,
    essay         TEXT NOT NULL,
    -- The teacher's scores, a JSON object by target name: {"content": 1.2}.
    scores        TEXT NOT NULL,
    -- When these scores were given (a replacement sets it anew).
    created_at    TEXT NOT NULL,
    UNIQUE (prompt_id, essay_sha256)
);

-- Listing a prompt's examples newest first is a seek on this index.
CREATE INDEX prompt_examples_by_prompt ON prompt_examples (prompt_id, created_at);

-- The raw (uncalibrated) scores a model gave an example: a cache, so that a
-- refit after one more example grades one essay, not all of them. An essay
-- replaced with new teacher scores keeps these (the essay is the same).
CREATE TABLE example_model_scores (
    example_id  TEXT NOT NULL REFERENCES prompt_examples (id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL REFERENCES models (id),
    -- JSON array of numbers in the model's target order.
    scores      TEXT NOT NULL,
    PRIMARY KEY (example_id, model_id)
);

-- A prompt's calibration for one model, as last fitted. Writing examples
-- deletes the prompt's rows in the same transaction, so a row that exists
-- is never older than the examples; the refit writes the new one.
CREATE TABLE calibrations (
    prompt_id   TEXT NOT NULL REFERENCES prompts (id),
    model_id    TEXT NOT NULL REFERENCES models (id),
    examples    BIGINT NOT NULL CHECK (examples >= 0),
    -- JSON: calibration::Calibration (per target: offset, slope, pivot, range, ...).
    parameters  TEXT NOT NULL,
    -- JSON: {"uncalibrated_mcrmse", "calibrated_mcrmse"} by leave-one-out, or NULL.
    estimate    TEXT,
    fitted_at   TEXT NOT NULL,
    PRIMARY KEY (prompt_id, model_id)
);
