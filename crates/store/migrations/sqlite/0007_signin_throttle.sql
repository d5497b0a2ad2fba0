-- Password guessing (issue 13): sign-in failures per login, kept in the database so that a
-- lockout holds on every node of one PostgreSQL (a per-process counter would let an attacker
-- multiply the guesses by the node count). The key is the login as typed, lower-cased, whether
-- or not an account has it: a lockout answered only for real accounts would tell which exist.
-- `failures` counts the attempts of the current window, each counted before its password is
-- checked (so parallel guesses cannot overtake the count); a successful sign-in deletes the row.
-- Keep in step with ../postgres/0007_signin_throttle.sql.
CREATE TABLE signin_throttle (
    login        TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    window_start INTEGER NOT NULL,
    locked_until INTEGER
);
CREATE INDEX signin_throttle_window ON signin_throttle(window_start);

-- Where an audited action came from: the client's address and user agent (the channel stays
-- in `origin`). Empty for changes Seatkeeper makes by itself and for the command line.
ALTER TABLE audit_log ADD COLUMN address TEXT;
ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
