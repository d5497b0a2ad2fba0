-- Usage history for the admin UI's charts (issue 5). Keep in step with
-- ../postgres/0004_usage_history.sql.
--
-- One row per subject and instant, written by `Ledger::record_usage` when a subject's numbers
-- change and at least once a day; rows older than 400 days are deleted by the same call.
--   * subject_kind 'product': subject is the product code; used and total are seats summed over
--     the product's pools (every area, kind and folder); suspended counts suspended assignments.
--   * subject_kind 'area': subject is the area name; used is active users (the built-in
--     administrator excluded), total the user limit (NULL without a limit), suspended is NULL.
-- The user list pages by lower(login): users_login (0001) is that expression index already.

CREATE TABLE usage_samples (
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('product', 'area')),
    subject      TEXT NOT NULL,
    at           INTEGER NOT NULL,
    used         INTEGER NOT NULL CHECK (used >= 0),
    total        INTEGER CHECK (total >= 0),
    suspended    INTEGER CHECK (suspended >= 0),
    PRIMARY KEY (subject_kind, subject, at),
    CHECK (subject_kind = 'area' OR (total IS NOT NULL AND suspended IS NOT NULL)),
    CHECK (subject_kind = 'product' OR suspended IS NULL)
) WITHOUT ROWID;
-- Retention deletes by age across subjects.
CREATE INDEX usage_samples_at ON usage_samples(at);
