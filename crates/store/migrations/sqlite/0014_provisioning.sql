-- SCIM 2.0 provisioning (I2) and SSO just-in-time users (I3).
-- Keep in step with ../postgres/0014_provisioning.sql.
--
-- A user or role created over SCIM or by an SSO sign-in keeps source = 'local' (the directory
-- sync never touches it) and records who made it in provisioned_by. external_id is the
-- identity provider's id (SCIM externalId); profile holds the SCIM attributes the ledger has no
-- column for (name parts, every e-mail), so that they read back as they were written;
-- modified_at is the last change made by provisioning (SCIM meta.lastModified).
ALTER TABLE users ADD COLUMN provisioned_by TEXT
    CHECK (provisioned_by IS NULL OR (provisioned_by IN ('scim', 'sso') AND source = 'local'));
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN profile TEXT;
ALTER TABLE users ADD COLUMN modified_at INTEGER;
CREATE INDEX users_external_id ON users(external_id) WHERE external_id IS NOT NULL;

ALTER TABLE roles ADD COLUMN provisioned_by TEXT
    CHECK (provisioned_by IS NULL OR provisioned_by = 'scim');
ALTER TABLE roles ADD COLUMN external_id TEXT;
ALTER TABLE roles ADD COLUMN created_at INTEGER;
ALTER TABLE roles ADD COLUMN modified_at INTEGER;
-- Roles made before this migration: created "now" as far as SCIM's meta can tell.
UPDATE roles SET created_at = CAST(strftime('%s', 'now') AS INTEGER);

-- The permission `provision_users` (SCIM and the integration API's provision route), held by
-- the built-in administrators' role as every permission is. SQLite cannot change a CHECK, so
-- the table is rebuilt (nothing refers to it).
CREATE TABLE role_permissions_new (
    role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN
        ('view_licenses', 'manage_licenses', 'manage_access', 'provision_users')),
    PRIMARY KEY (role_id, permission)
);
INSERT INTO role_permissions_new SELECT role_id, permission FROM role_permissions;
DROP TABLE role_permissions;
ALTER TABLE role_permissions_new RENAME TO role_permissions;
INSERT INTO role_permissions (role_id, permission) VALUES (2, 'provision_users');

-- The token scope `provisioning`: a token an identity provider holds, good for SCIM and the
-- provision route only. The trigger that names api_tokens is dropped while the table is
-- rebuilt and made again as it was (0008).
DROP TRIGGER users_block_ends_signins;
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('integration', 'admin', 'signin', 'provisioning')),
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER
);
INSERT INTO api_tokens_new SELECT id, user_id, name, scope, secret_hash, created_at, expires_at
    FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE TRIGGER users_block_ends_signins AFTER UPDATE OF state ON users
WHEN NEW.state = 'blocked' AND OLD.state <> 'blocked'
BEGIN
    DELETE FROM api_tokens WHERE user_id = NEW.id AND scope = 'signin';
END;
