-- Role-based distribution (D2–D6) and system messages (N2).
-- Keep in step with ../postgres/0003_distribution.sql.
--
-- Invariants added here:
--   * an assignment is one seat whatever its reasons: `manual` (granted by hand or taken at
--     login) and `by_role` (given by role-based distribution) are flags on the same row;
--   * at most one redistribution runs at a time (partial unique index), so two runs never
--     plan against each other's half-applied state.

ALTER TABLE assignments ADD COLUMN by_role INTEGER NOT NULL DEFAULT 0 CHECK (by_role IN (0, 1));

-- "Licenses to distribute with the role". No foreign key to products: a binding is intent
-- and survives deleting all licenses; it applies again when the product returns.
CREATE TABLE role_products (
    role_id      INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    product_code TEXT NOT NULL,
    PRIMARY KEY (role_id, product_code)
);

-- Needs a redistribution could not meet; fulfilled as seats free up.
CREATE TABLE pending_needs (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product_code TEXT NOT NULL,
    area         TEXT NOT NULL,
    reason       TEXT NOT NULL CHECK (reason IN ('no_seat_free')),
    since        INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_code)
);
CREATE INDEX pending_needs_product ON pending_needs(product_code, area, user_id);

CREATE TABLE system_messages (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    title   TEXT NOT NULL,
    body    TEXT NOT NULL,
    read_at INTEGER
);
CREATE INDEX system_messages_unread ON system_messages(read_at, id);

-- The journal of redistribution runs: applied in short chunks so that grants and logins go
-- on meanwhile; a run left `running` by a crash is finished by the next process that opens
-- the ledger (roll forward), so a crash leaves the state before or after, never between.
CREATE TABLE redistributions (
    id           INTEGER PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    actor        TEXT NOT NULL,
    origin       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    manual       TEXT NOT NULL CHECK (manual IN ('keep', 'remove')),
    status       TEXT NOT NULL CHECK (status IN ('running', 'done')),
    phase        TEXT NOT NULL CHECK (phase IN ('recall', 'grant', 'done')),
    mode         TEXT NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'incremental')),
    signature    TEXT NOT NULL DEFAULT '',
    after_user   INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT NOT NULL,
    lease_until  INTEGER NOT NULL,
    granted      INTEGER NOT NULL DEFAULT 0,
    recalled     INTEGER NOT NULL DEFAULT 0,
    releasing    INTEGER NOT NULL DEFAULT 0,
    reasons      INTEGER NOT NULL DEFAULT 0,
    unmet        INTEGER NOT NULL DEFAULT 0,
    users        INTEGER NOT NULL DEFAULT 0,
    message_id   INTEGER
);
CREATE UNIQUE INDEX redistributions_one_running ON redistributions(status) WHERE status = 'running';

INSERT INTO meta (key, value) VALUES
    ('setting.redistribute_on_role_change', 'false'),
    ('setting.role_based_distribution', 'true')
ON CONFLICT (key) DO NOTHING;

-- L4's suspended counts are read per chunk of a run: a partial index keeps that cheap.
CREATE INDEX assignments_suspended ON assignments(status) WHERE status = 'suspended';

-- Users whose plan may have changed since the last full redistribution: a later run for all
-- users with the same option and the same role tree only visits them (and users with pending
-- needs that free seats could now meet). Redistribution's own grants (by_role = 1) do not
-- mark anyone; each chunk clears the marks of the users it has just planned.
CREATE TABLE distribution_dirty (
    user_id INTEGER PRIMARY KEY
);
CREATE TRIGGER dirty_member_add AFTER INSERT ON role_members
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_member_remove AFTER DELETE ON role_members
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (OLD.user_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_user_new AFTER INSERT ON users
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_user_change AFTER UPDATE OF state, area, folder_id ON users
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_manual_grant AFTER INSERT ON assignments WHEN NEW.by_role = 0
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_assignment_gone AFTER DELETE ON assignments
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (OLD.user_id) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER dirty_assignment_reasons AFTER UPDATE OF manual, by_role, release_pending ON assignments
BEGIN
    INSERT INTO distribution_dirty (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
END;
