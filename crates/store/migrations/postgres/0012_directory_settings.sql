-- Directory sync settings kept in the ledger (edited on the admin UI's Directory page and by
-- PUT /api/v1/directory/settings), and the one row that lets one node at a time run a sync.
-- Keep in step with ../sqlite/0012_directory_settings.sql.

-- At most one row. `config` is the JSON of the [directory] section without the password;
-- the password is its own column so that no read of the settings can carry it by accident.
CREATE TABLE directory_settings (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    config        TEXT NOT NULL,
    bind_password TEXT,
    updated_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL
);

-- Exactly one row. A node runs a sync only while it holds the lease (holder, until
-- lease_until); a node that dies loses it when the time runs out. last_* say when the last
-- sync ended and how, including syncs that found no change and so wrote no run.
CREATE TABLE directory_sync_state (
    id               BIGINT PRIMARY KEY CHECK (id = 1),
    holder           TEXT,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    last_finished_at BIGINT,
    last_outcome     TEXT CHECK (last_outcome IN ('changed', 'no_change', 'failed'))
);
INSERT INTO directory_sync_state (id) VALUES (1);
