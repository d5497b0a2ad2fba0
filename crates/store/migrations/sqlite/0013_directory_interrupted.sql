-- Directory sync: a run a killed process left `running` is closed as `interrupted` by the
-- next sync (docs/DIRECTORY.md, "Runs"); `owner` says which process a run belongs to, so that
-- a sync never closes another live process's run. And U2 between syncs: the users waiting
-- for room (`license_limit`), oldest first per area, found without reading every user.
-- Keep in step with ../postgres/0013_directory_interrupted.sql.

CREATE TABLE directory_runs_new (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL
        CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    preview     INTEGER NOT NULL DEFAULT 0 CHECK (preview IN (0, 1)),
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    owner       TEXT
);
INSERT INTO directory_runs_new (id, started_at, finished_at, status, preview, counts, error)
    SELECT id, started_at, finished_at, status, preview, counts, error FROM directory_runs;
DROP TABLE directory_runs;
ALTER TABLE directory_runs_new RENAME TO directory_runs;
CREATE INDEX directory_runs_started ON directory_runs(started_at);

CREATE INDEX users_waiting ON users(area, created_at, id) WHERE block_reason = 'license_limit';
