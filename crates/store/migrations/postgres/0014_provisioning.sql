-- SCIM 2.0 provisioning (I2) and SSO just-in-time users (I3).
-- Keep in step with ../sqlite/0014_provisioning.sql.
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
ALTER TABLE users ADD COLUMN modified_at BIGINT;
CREATE INDEX users_external_id ON users(external_id) WHERE external_id IS NOT NULL;

ALTER TABLE roles ADD COLUMN provisioned_by TEXT
    CHECK (provisioned_by IS NULL OR provisioned_by = 'scim');
ALTER TABLE roles ADD COLUMN external_id TEXT;
ALTER TABLE roles ADD COLUMN created_at BIGINT;
ALTER TABLE roles ADD COLUMN modified_at BIGINT;
-- Roles made before this migration: created "now" as far as SCIM's meta can tell.
UPDATE roles SET created_at = CAST(EXTRACT(EPOCH FROM now()) AS BIGINT);

-- The permission `provision_users` (SCIM and the integration API's provision route), held by
-- the built-in administrators' role as every permission is.
ALTER TABLE role_permissions DROP CONSTRAINT role_permissions_permission_check;
ALTER TABLE role_permissions ADD CONSTRAINT role_permissions_permission_check
    CHECK (permission IN ('view_licenses', 'manage_licenses', 'manage_access', 'provision_users'));
INSERT INTO role_permissions (role_id, permission) VALUES (2, 'provision_users');

-- The token scope `provisioning`: a token an identity provider holds, good for SCIM and the
-- provision route only.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scope_check
    CHECK (scope IN ('integration', 'admin', 'signin', 'provisioning'));
