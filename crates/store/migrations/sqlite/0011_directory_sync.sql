-- Directory sync (I1, U2, D5): where each user and role came from, and the history of runs.
-- Keep in step with ../postgres/0011_directory_sync.sql.
--
-- Only users with source = 'directory' are the sync's to change; every other user (by hand,
-- CSV, API, SCIM, SSO) keeps 'local' and is never touched by a sync. A role with a
-- directory_dn was created by a sync from that group.

ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'directory'));
ALTER TABLE users ADD COLUMN directory_dn TEXT;
ALTER TABLE roles ADD COLUMN directory_dn TEXT;

CREATE TABLE directory_runs (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    preview     INTEGER NOT NULL DEFAULT 0 CHECK (preview IN (0, 1)),
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT
);
CREATE INDEX directory_runs_started ON directory_runs(started_at);
