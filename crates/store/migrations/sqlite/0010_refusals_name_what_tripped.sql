-- The database's own refusals say what tripped them, with the numbers at that moment
-- (issue 14): which pool (product, area, kind, folder) was full, which area was at its user
-- limit, which user was blocked. `StoreError`'s one translation (src/error.rs) turns them
-- into the domain refusal the code's own checks give, so a refusal the code did not see
-- coming (a race, hand-written SQL) reads like any other and is answered as one (409), not
-- as a storage failure. Keep in step with ../postgres/0010_refusals_name_what_tripped.sql.
--
-- The messages are built from the row (RAISE with an expression), which the SQLite bundled
-- with Seatkeeper reads (3.51); an sqlite3 shell older than 3.47 cannot read this schema.

-- Over capacity: refused before the row is written, naming the pool. The CHECK
-- seats_within_capacity (0001) stays as the last word; it now trips only where capacity
-- itself would drop below the seats in use, which no refusal explains.
CREATE TRIGGER seats_within_capacity BEFORE UPDATE OF used ON seat_pools
WHEN NEW.used > NEW.capacity AND NEW.used > OLD.used
BEGIN
    SELECT RAISE(ABORT, 'seats_within_capacity: product=' || NEW.product_code
        || ' area=' || NEW.area || ' kind=' || NEW.kind || ' folder=' || NEW.folder_id
        || ' capacity=' || NEW.capacity || ' used=' || OLD.used
        || ' adding=' || (NEW.used - OLD.used));
END;

DROP TRIGGER area_user_limit;
-- A limit lowered by expiry does not block anyone; it only stops the count from growing.
CREATE TRIGGER area_user_limit BEFORE UPDATE OF active_users ON area_counters
WHEN NEW.active_users > OLD.active_users AND NEW.user_limit IS NOT NULL
     AND NEW.active_users > NEW.user_limit
BEGIN
    SELECT RAISE(ABORT, 'area_user_limit: area=' || NEW.area || ' limit=' || NEW.user_limit
        || ' active=' || OLD.active_users || ' adding=' || (NEW.active_users - OLD.active_users));
END;

DROP TRIGGER assignments_only_for_active_users;
CREATE TRIGGER assignments_only_for_active_users BEFORE INSERT ON assignments
WHEN (SELECT state FROM users WHERE id = NEW.user_id) <> 'active'
BEGIN
    SELECT RAISE(ABORT, 'assignment_for_blocked_user: login='
        || (SELECT login FROM users WHERE id = NEW.user_id));
END;
