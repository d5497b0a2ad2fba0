-- Active users are counted into `area_counters` once per statement instead of once per row
-- (issue 13, CSV import): a statement that creates 40,000 users updated the area's one row
-- 40,000 times in one transaction, and PostgreSQL keeps every version of that row until the
-- transaction ends, so each update walked a longer chain of them — the import took time in
-- the square of its rows and held the write lock that logins wait for (40k users: 44 s).
-- The guarantee is the same: a statement's users are counted before it ends, and the limit
-- trigger on `area_counters` (unchanged) refuses the statement, all its rows, if the count
-- rises past the limit. Keep in step with ../sqlite/0009_user_counts_per_statement.sql
-- (SQLite has row triggers only and keeps them).
DROP TRIGGER users_count ON users;
DROP FUNCTION sk_count_users();

-- One function for the three triggers: each names its transition tables `old_users` and/or
-- `new_users`, and only the branch of its own operation reads them.
CREATE FUNCTION sk_count_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE area_counters c SET active_users = c.active_users + d.n
        FROM (SELECT area, count(*) AS n FROM new_users
              WHERE state = 'active' AND builtin = 0 GROUP BY area) d
        WHERE c.area = d.area;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE area_counters c SET active_users = c.active_users - d.n
        FROM (SELECT area, count(*) AS n FROM old_users
              WHERE state = 'active' AND builtin = 0 GROUP BY area) d
        WHERE c.area = d.area;
    ELSE
        -- Transition tables cannot go with a column list (UPDATE OF state, area), so every
        -- update of users comes here; one that changes neither nets to nothing and is skipped.
        UPDATE area_counters c SET active_users = c.active_users + d.n
        FROM (SELECT area, sum(n) AS n FROM (
                  SELECT area, 1 AS n FROM new_users WHERE state = 'active' AND builtin = 0
                  UNION ALL
                  SELECT area, -1 AS n FROM old_users WHERE state = 'active' AND builtin = 0
              ) x GROUP BY area HAVING sum(n) <> 0) d
        WHERE c.area = d.area;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_counted_insert AFTER INSERT ON users
REFERENCING NEW TABLE AS new_users
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_users_changed();

CREATE TRIGGER users_counted_delete AFTER DELETE ON users
REFERENCING OLD TABLE AS old_users
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_users_changed();

CREATE TRIGGER users_counted_update AFTER UPDATE ON users
REFERENCING OLD TABLE AS old_users NEW TABLE AS new_users
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_users_changed();

-- New users are marked for the next redistribution (0003) once per statement too: a
-- plpgsql call per created user was the next largest part of a bulk import's time under
-- the lock.
DROP TRIGGER dirty_user_new ON users;
CREATE FUNCTION sk_dirty_users_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO distribution_dirty (user_id) SELECT id FROM new_users ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER dirty_users_new AFTER INSERT ON users
REFERENCING NEW TABLE AS new_users
FOR EACH STATEMENT EXECUTE FUNCTION sk_dirty_users_new();
