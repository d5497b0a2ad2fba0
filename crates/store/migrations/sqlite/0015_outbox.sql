-- Notifications (N1, I4, X6): the outbox. Keep in step with ../postgres/0015_outbox.sql.
--
-- Every event is a row of `events`, written in the transaction of the change that raises it;
-- its deliveries (one per matching webhook, one mail to the responsible address when its
-- class is on) are made by the trigger `events_fan_out` in that same transaction, so an
-- event can never exist without them, whoever wrote it. Dispatchers claim due deliveries
-- (`claimed_by`, `claimed_until`), send them and record each attempt.

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    type    TEXT NOT NULL,
    class   TEXT NOT NULL,
    -- Events raised by time (expiry notices): a second notice of the same thing is a no-op.
    dedupe  TEXT UNIQUE,
    data    TEXT NOT NULL
);
CREATE INDEX events_type ON events(type, id);
CREATE INDEX events_unstamped ON events(id) WHERE at = 0;

-- Level conditions already reported (limit reached, seats at the threshold…): a condition
-- fires when it is added here and is re-armed when it is removed.
CREATE TABLE alert_conditions (
    key   TEXT PRIMARY KEY,
    since INTEGER NOT NULL
);

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL
);

-- The event types a webhook takes; '*' takes every type.
CREATE TABLE webhook_events (
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    PRIMARY KEY (webhook_id, type)
);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    channel          TEXT NOT NULL CHECK (channel IN ('webhook', 'mail')),
    webhook_id       INTEGER REFERENCES webhooks(id) ON DELETE CASCADE,
    recipient        TEXT,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'digest')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    next_at          INTEGER NOT NULL,
    claimed_by       TEXT,
    claimed_until    INTEGER,
    last_at          INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    done_at          INTEGER,
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
    CHECK ((channel = 'mail') = (recipient IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    node        TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id, id);

-- Mail per event class: what a responsible person must act on is on, per-user noise off.
INSERT INTO meta (key, value) VALUES
    ('notify.mail.limits', 'on'), ('notify.mail.seats', 'on'), ('notify.mail.licenses', 'on'),
    ('notify.mail.distribution', 'on'), ('notify.mail.users', 'off'),
    ('notify.mail.directory', 'off'), ('notify.mail.digest', 'off')
ON CONFLICT (key) DO NOTHING;

CREATE TRIGGER events_fan_out AFTER INSERT ON events
WHEN NEW.class <> 'test'
BEGIN
    INSERT INTO deliveries (event_id, channel, webhook_id, state, created_at, next_at)
    SELECT NEW.id, 'webhook', w.id, 'pending', NEW.at, NEW.at FROM webhooks w
    WHERE w.active = 1 AND EXISTS (SELECT 1 FROM webhook_events e
        WHERE e.webhook_id = w.id AND (e.type = NEW.type OR e.type = '*'));
    INSERT INTO deliveries (event_id, channel, recipient, state, created_at, next_at)
    SELECT NEW.id, 'mail', r.value,
        CASE WHEN d.value = 'on' THEN 'digest' ELSE 'pending' END, NEW.at, NEW.at
    FROM meta r
    JOIN meta c ON c.key = 'notify.mail.' || NEW.class AND c.value = 'on'
    LEFT JOIN meta d ON d.key = 'notify.mail.digest'
    WHERE r.key = 'setting.responsible_email' AND r.value <> '';
END;

-- user.blocked / user.activated, whichever path changes the state (by hand, CSV, directory
-- sync, SCIM, the area's room). Written with `at` 0: the transaction's commit stamps them
-- (and their deliveries) with the ledger's clock (`outbox::settle`).
CREATE TRIGGER users_state_event AFTER UPDATE OF state ON users
WHEN NEW.state <> OLD.state AND NEW.builtin = 0
BEGIN
    INSERT INTO events (at, type, class, data) VALUES (
        0,
        CASE NEW.state WHEN 'blocked' THEN 'user.blocked' ELSE 'user.activated' END,
        'users',
        CASE NEW.state
            WHEN 'blocked' THEN json_object('login', NEW.login, 'area', NEW.area,
                'reason', NEW.block_reason)
            ELSE json_object('login', NEW.login, 'area', NEW.area,
                'previous_reason', OLD.block_reason)
        END);
END;

CREATE TRIGGER users_created_blocked_event AFTER INSERT ON users
WHEN NEW.state = 'blocked' AND NEW.builtin = 0
BEGIN
    INSERT INTO events (at, type, class, data) VALUES (
        0, 'user.blocked', 'users',
        json_object('login', NEW.login, 'area', NEW.area, 'reason', NEW.block_reason));
END;
