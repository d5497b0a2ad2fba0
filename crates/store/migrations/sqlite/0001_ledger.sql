-- Seatkeeper ledger, SQLite dialect. Keep in step with ../postgres/0001_ledger.sql: the shared
-- storage test suite runs against both.
--
-- Invariants the database enforces by itself, whatever the code does:
--   * seat_pools.used counts the active assignments of the pool (triggers) and can never
--     exceed capacity (CHECK seats_within_capacity): no oversubscription.
--   * every assignment belongs to an existing pool (foreign key), so none escapes the count.
--   * a blocked user cannot be given an assignment (trigger).
--   * area_counters.active_users counts active, non-built-in users (triggers) and cannot grow
--     past the area's user limit (trigger area_user_limit).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE folders (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES folders(id),
    name      TEXT NOT NULL,
    CHECK ((id = 1) = (parent_id IS NULL))
);
CREATE UNIQUE INDEX folders_sibling_names ON folders(parent_id, name);
INSERT INTO folders (id, parent_id, name) VALUES (1, NULL, '');

CREATE TABLE license_files (
    id          INTEGER PRIMARY KEY,
    license_id  TEXT NOT NULL UNIQUE,
    digest      TEXT NOT NULL UNIQUE,
    key_id      TEXT NOT NULL,
    company_id  TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    imported_by TEXT NOT NULL,
    content     TEXT NOT NULL
);

CREATE TABLE products (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    features    TEXT NOT NULL,
    all_modules INTEGER NOT NULL CHECK (all_modules IN (0, 1))
);

CREATE TABLE packages (
    serial          TEXT PRIMARY KEY,
    license_file_id INTEGER NOT NULL REFERENCES license_files(id) ON DELETE CASCADE,
    product_code    TEXT NOT NULL REFERENCES products(code),
    kind            TEXT NOT NULL CHECK (kind IN ('named', 'concurrent')),
    area            TEXT NOT NULL CHECK (area IN ('employee', 'portal')),
    seats           INTEGER NOT NULL CHECK (seats > 0),
    valid_from      INTEGER NOT NULL,
    expires         INTEGER,
    replaces        TEXT NOT NULL
);

CREATE TABLE package_placements (
    serial    TEXT NOT NULL REFERENCES packages(serial) ON DELETE CASCADE,
    folder_id INTEGER NOT NULL REFERENCES folders(id),
    seats     INTEGER NOT NULL CHECK (seats > 0),
    PRIMARY KEY (serial, folder_id)
);

CREATE TABLE area_limits (
    id              INTEGER PRIMARY KEY,
    license_file_id INTEGER NOT NULL REFERENCES license_files(id) ON DELETE CASCADE,
    area            TEXT NOT NULL CHECK (area IN ('employee', 'portal')),
    max_users       INTEGER NOT NULL CHECK (max_users >= 0),
    valid_from      INTEGER NOT NULL,
    expires         INTEGER
);

CREATE TABLE seat_pools (
    product_code TEXT NOT NULL,
    area         TEXT NOT NULL CHECK (area IN ('employee', 'portal')),
    kind         TEXT NOT NULL CHECK (kind IN ('named', 'concurrent')),
    folder_id    INTEGER NOT NULL REFERENCES folders(id),
    capacity     INTEGER NOT NULL CHECK (capacity >= 0),
    used         INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    CONSTRAINT seats_within_capacity CHECK (used <= capacity),
    PRIMARY KEY (product_code, area, kind, folder_id)
);

CREATE TABLE area_counters (
    area         TEXT PRIMARY KEY CHECK (area IN ('employee', 'portal')),
    active_users INTEGER NOT NULL DEFAULT 0 CHECK (active_users >= 0),
    user_limit   INTEGER
);
INSERT INTO area_counters (area) VALUES ('employee'), ('portal');

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    login        TEXT NOT NULL,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    area         TEXT NOT NULL REFERENCES area_counters(area),
    folder_id    INTEGER NOT NULL REFERENCES folders(id),
    state        TEXT NOT NULL CHECK (state IN ('active', 'blocked')),
    block_reason TEXT,
    builtin      INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    created_at   INTEGER NOT NULL,
    CHECK (builtin = 0 OR state = 'active')
);
CREATE UNIQUE INDEX users_login ON users(lower(login));
CREATE INDEX users_folder ON users(folder_id);
-- The built-in administrator: never counts against a limit, can always manage licenses.
INSERT INTO users (login, name, email, area, folder_id, state, builtin, created_at)
VALUES ('admin', 'Administrator', '', 'employee', 1, 'active', 1, 0);

CREATE TABLE assignments (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product_code TEXT NOT NULL,
    area         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind = 'named'),
    folder_id    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    manual       INTEGER NOT NULL CHECK (manual IN (0, 1)),
    granted_at   INTEGER NOT NULL,
    granted_by   TEXT NOT NULL,
    UNIQUE (user_id, product_code),
    FOREIGN KEY (product_code, area, kind, folder_id)
        REFERENCES seat_pools(product_code, area, kind, folder_id)
);
CREATE INDEX assignments_pool ON assignments(product_code, area, kind, folder_id, status);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    origin  TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TRIGGER assignments_count_insert AFTER INSERT ON assignments
WHEN NEW.status = 'active'
BEGIN
    UPDATE seat_pools SET used = used + 1
    WHERE product_code = NEW.product_code AND area = NEW.area AND kind = NEW.kind
      AND folder_id = NEW.folder_id;
END;

CREATE TRIGGER assignments_count_delete AFTER DELETE ON assignments
WHEN OLD.status = 'active'
BEGIN
    UPDATE seat_pools SET used = used - 1
    WHERE product_code = OLD.product_code AND area = OLD.area AND kind = OLD.kind
      AND folder_id = OLD.folder_id;
END;

CREATE TRIGGER assignments_count_update
AFTER UPDATE OF status, product_code, area, kind, folder_id ON assignments
BEGIN
    UPDATE seat_pools SET used = used - 1
    WHERE OLD.status = 'active' AND product_code = OLD.product_code AND area = OLD.area
      AND kind = OLD.kind AND folder_id = OLD.folder_id;
    UPDATE seat_pools SET used = used + 1
    WHERE NEW.status = 'active' AND product_code = NEW.product_code AND area = NEW.area
      AND kind = NEW.kind AND folder_id = NEW.folder_id;
END;

CREATE TRIGGER assignments_only_for_active_users BEFORE INSERT ON assignments
WHEN (SELECT state FROM users WHERE id = NEW.user_id) <> 'active'
BEGIN
    SELECT RAISE(ABORT, 'assignment_for_blocked_user');
END;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
WHEN NEW.state = 'active' AND NEW.builtin = 0
BEGIN
    UPDATE area_counters SET active_users = active_users + 1 WHERE area = NEW.area;
END;

CREATE TRIGGER users_count_delete AFTER DELETE ON users
WHEN OLD.state = 'active' AND OLD.builtin = 0
BEGIN
    UPDATE area_counters SET active_users = active_users - 1 WHERE area = OLD.area;
END;

CREATE TRIGGER users_count_update AFTER UPDATE OF state, area ON users
WHEN NEW.builtin = 0
BEGIN
    UPDATE area_counters SET active_users = active_users - 1
    WHERE OLD.state = 'active' AND area = OLD.area;
    UPDATE area_counters SET active_users = active_users + 1
    WHERE NEW.state = 'active' AND area = NEW.area;
END;

-- A limit lowered by expiry does not block anyone; it only stops the count from growing.
CREATE TRIGGER area_user_limit BEFORE UPDATE OF active_users ON area_counters
WHEN NEW.active_users > OLD.active_users AND NEW.user_limit IS NOT NULL
     AND NEW.active_users > NEW.user_limit
BEGIN
    SELECT RAISE(ABORT, 'area_user_limit');
END;
