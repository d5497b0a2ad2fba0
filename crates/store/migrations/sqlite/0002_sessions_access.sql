-- Sessions with floating seats (S1–S4), roles with permissions and credentials (X2).
-- Keep in step with ../postgres/0002_sessions_access.sql.
--
-- Invariants added here:
--   * a floating (concurrent) seat is a row of floating_holds, counted into seat_pools.used by
--     triggers, so the same CHECK (used <= capacity) that guards named seats guards sessions;
--   * a hold belongs to a live session (foreign key, cascade), so ending a session — logout,
--     idle reaping on any node, deleting the user — frees its floating seats by itself.

-- S4: a dedicated seat recalled while its holder is logged in stays counted ("releasing")
-- until that user's last session ends.
ALTER TABLE assignments ADD COLUMN release_pending INTEGER NOT NULL DEFAULT 0
    CHECK (release_pending IN (0, 1));

ALTER TABLE users ADD COLUMN password_hash TEXT;

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    client     TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_last_seen ON sessions(last_seen);

CREATE TABLE floating_holds (
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    product_code TEXT NOT NULL,
    area         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind = 'concurrent'),
    folder_id    INTEGER NOT NULL,
    acquired_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, product_code),
    FOREIGN KEY (product_code, area, kind, folder_id)
        REFERENCES seat_pools(product_code, area, kind, folder_id)
);
CREATE INDEX floating_holds_pool ON floating_holds(product_code, area, kind, folder_id);

CREATE TRIGGER floating_holds_count_insert AFTER INSERT ON floating_holds
BEGIN
    UPDATE seat_pools SET used = used + 1
    WHERE product_code = NEW.product_code AND area = NEW.area AND kind = NEW.kind
      AND folder_id = NEW.folder_id;
END;

CREATE TRIGGER floating_holds_count_delete AFTER DELETE ON floating_holds
BEGIN
    UPDATE seat_pools SET used = used - 1
    WHERE product_code = OLD.product_code AND area = OLD.area AND kind = OLD.kind
      AND folder_id = OLD.folder_id;
END;

CREATE TABLE roles (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('organizational', 'functional')),
    parent_id INTEGER REFERENCES roles(id),
    builtin   INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1))
);
CREATE UNIQUE INDEX roles_name ON roles(lower(name));
INSERT INTO roles (id, name, kind, parent_id, builtin) VALUES
    (1, 'All employees', 'organizational', NULL, 1),
    (2, 'System administrators', 'functional', NULL, 1);

CREATE TABLE role_members (
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, user_id)
);
CREATE INDEX role_members_user ON role_members(user_id);

CREATE TABLE role_permissions (
    role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('view_licenses', 'manage_licenses', 'manage_access')),
    PRIMARY KEY (role_id, permission)
);
INSERT INTO role_permissions (role_id, permission) VALUES
    (2, 'view_licenses'), (2, 'manage_licenses'), (2, 'manage_access');
INSERT INTO role_members (role_id, user_id) SELECT 2, id FROM users WHERE builtin = 1;

-- API tokens and administrator sign-in sessions: only a SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('integration', 'admin', 'signin')),
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
