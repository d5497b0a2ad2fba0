-- The database's own refusals say what tripped them, with the numbers at that moment
-- (issue 14): which pool (product, area, kind, folder) was full, which area was at its user
-- limit, which user was blocked. `StoreError`'s one translation (src/error.rs) turns them
-- into the domain refusal the code's own checks give, so a refusal the code did not see
-- coming (a race between nodes, hand-written SQL) reads like any other and is answered as
-- one (409), not as a storage failure. Keep in step with
-- ../sqlite/0010_refusals_name_what_tripped.sql.

-- Over capacity: refused before the row is written, naming the pool. The trigger's WHEN
-- keeps the function out of every update that fits (the hot path of floating logins). The
-- CHECK seats_within_capacity (0001) stays as the last word; it now trips only where
-- capacity itself would drop below the seats in use, which no refusal explains.
CREATE FUNCTION sk_seats_within_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'seats_within_capacity: product=% area=% kind=% folder=% capacity=% used=% adding=%',
        NEW.product_code, NEW.area, NEW.kind, NEW.folder_id, NEW.capacity, OLD.used,
        NEW.used - OLD.used
        USING ERRCODE = 'check_violation', CONSTRAINT = 'seats_within_capacity';
END $$;
CREATE TRIGGER seats_within_capacity BEFORE UPDATE OF used ON seat_pools
FOR EACH ROW WHEN (NEW.used > NEW.capacity AND NEW.used > OLD.used)
EXECUTE FUNCTION sk_seats_within_capacity();

-- A limit lowered by expiry does not block anyone; it only stops the count from growing.
CREATE OR REPLACE FUNCTION sk_area_user_limit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active_users > OLD.active_users AND NEW.user_limit IS NOT NULL
       AND NEW.active_users > NEW.user_limit THEN
        RAISE EXCEPTION 'area_user_limit: area=% limit=% active=% adding=%',
            NEW.area, NEW.user_limit, OLD.active_users, NEW.active_users - OLD.active_users
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION sk_assignment_user_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who users%ROWTYPE;
BEGIN
    SELECT * INTO who FROM users WHERE id = NEW.user_id;
    IF who.state <> 'active' THEN
        RAISE EXCEPTION 'assignment_for_blocked_user: login=%', who.login
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
