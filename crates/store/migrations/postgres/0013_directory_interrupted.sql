-- Directory sync: a run a killed process left `running` is closed as `interrupted` by the
-- next sync (docs/DIRECTORY.md, "Runs"); `owner` says which process a run belongs to, so that
-- a sync never closes another live process's run. And U2 between syncs: the users waiting
-- for room (`license_limit`), oldest first per area, found without reading every user.
-- Keep in step with ../sqlite/0013_directory_interrupted.sql.

ALTER TABLE directory_runs DROP CONSTRAINT directory_runs_status_check;
ALTER TABLE directory_runs ADD CONSTRAINT directory_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted'));
ALTER TABLE directory_runs ADD COLUMN owner TEXT;

CREATE INDEX users_waiting ON users(area, created_at, id) WHERE block_reason = 'license_limit';
