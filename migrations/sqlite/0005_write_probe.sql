-- One row that the write probe of every process overwrites every few seconds
-- (`store::writability::probe`), so that `/ready` can tell a database that
-- answers reads but refuses writes (a read-only file or server, a full disk)
-- from a healthy one. Nothing reads the time; the write is the point.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at TEXT NOT NULL
);
