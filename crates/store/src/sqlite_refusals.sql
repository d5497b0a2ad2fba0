-- SQLite: what every connection of the ledger's pool runs once, after the pragmas (see
-- `db.rs`). The database's own refusals say what tripped them, with the numbers at that
-- moment: which pool (product, area, kind, folder) was full, which area was at its user
-- limit. `StoreError`'s one translation (src/error.rs) turns them into
-- the domain refusal the code's own checks give. The same messages as
-- ../migrations/postgres/0010_refusals_name_what_tripped.sql; keep them in step.
--
-- TEMP triggers, not a migration: a message built from the row (RAISE with an expression)
-- needs SQLite 3.47, which the bundled library is, but an older sqlite3 shell (Debian 12 has
-- 3.40) could no longer read a file whose schema held one. The file keeps its guards with
-- fixed messages (0001: CHECK seats_within_capacity, area_user_limit,
-- assignments_only_for_active_users), so hand-written SQL on any connection is still refused;
-- on the ledger's own connections these fire first and say more.
--
-- The blocked-user guard is not repeated here: its check is a lookup per assignment written
-- (a redistribution writes millions), and on SQLite, with one writer that checks the user
-- first, only hand-written SQL can trip it; its fixed message is still a refusal
-- (`UserBlocked`), without the login.
CREATE TEMP TRIGGER IF NOT EXISTS refuse_over_capacity BEFORE UPDATE OF used ON main.seat_pools
WHEN NEW.used > NEW.capacity AND NEW.used > OLD.used
BEGIN
    SELECT RAISE(ABORT, 'seats_within_capacity: product=' || NEW.product_code
        || ' area=' || NEW.area || ' kind=' || NEW.kind || ' folder=' || NEW.folder_id
        || ' capacity=' || NEW.capacity || ' used=' || OLD.used
        || ' adding=' || (NEW.used - OLD.used));
END;

CREATE TEMP TRIGGER IF NOT EXISTS refuse_past_user_limit
BEFORE UPDATE OF active_users ON main.area_counters
WHEN NEW.active_users > OLD.active_users AND NEW.user_limit IS NOT NULL
     AND NEW.active_users > NEW.user_limit
BEGIN
    SELECT RAISE(ABORT, 'area_user_limit: area=' || NEW.area || ' limit=' || NEW.user_limit
        || ' active=' || OLD.active_users || ' adding=' || (NEW.active_users - OLD.active_users));
END;
