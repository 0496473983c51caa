-- PostgreSQL twin of migrations/sqlite/0004_job_leases.sql: the same tables, columns, keys and
-- checks with the same meaning; only the types are PostgreSQL's (BIGINT for
-- INTEGER, BYTEA for BLOB, DOUBLE PRECISION for REAL). Comments below are the
-- SQLite file's.
--
-- Claims on jobs become leases, so that several processes (two servers on
-- one SQLite file, or replicas on one PostgreSQL) can share the queue.
--
-- A worker that claims a job writes a fresh random `lease_token` and a
-- `lease_expires_at` (RFC 3339 UTC, milliseconds, like every stored time, so
-- string order is time order). Its heartbeat pushes the expiry forward, and
-- every later write of that worker (heartbeat, progress, metrics, the end)
-- is guarded by `lease_token`: once another process has requeued the job, the
-- old worker's writes match no row and it stops.
--
-- Any process requeues a `running` job whose lease has expired. A running row
-- without a lease (left by a version before this migration) counts as expired.
--
-- `claimed_by` names the process holding the lease, for logs and for people.
-- Numbered 0004: 0003 is the examples and calibrations migration.
ALTER TABLE jobs ADD COLUMN lease_token TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires_at TEXT;
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;

-- Recovery looks for running jobs by lease expiry.
CREATE INDEX jobs_by_lease ON jobs (status, lease_expires_at);
