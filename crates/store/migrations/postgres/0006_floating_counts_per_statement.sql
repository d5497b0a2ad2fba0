-- Floating holds are counted into their pools once per statement instead of once per row
-- (issue 3's throughput): a turn of logins that inserts thirty holds updated the pool's row
-- thirty times, each a new row version of the one row every node's logins touch. The
-- guarantee is the same: the statement's holds are added to `seat_pools.used` before the
-- statement ends, and the pool's CHECK (used <= capacity) refuses the statement, all its
-- rows, if they do not fit. Keep in step with ../sqlite/0006_floating_counts_per_statement.sql
-- (SQLite has row triggers only and keeps them).
DROP TRIGGER floating_holds_count ON floating_holds;
DROP FUNCTION sk_count_floating();

-- One function for both triggers: each names its transition table `changed`, and the
-- operation gives the sign.
CREATE FUNCTION sk_count_floating_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE seat_pools p
    SET used = p.used + n.held * CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END
    FROM (SELECT product_code, area, kind, folder_id, count(*) AS held FROM changed
          GROUP BY product_code, area, kind, folder_id) n
    WHERE p.product_code = n.product_code AND p.area = n.area AND p.kind = n.kind
      AND p.folder_id = n.folder_id;
    RETURN NULL;
END $$;

CREATE TRIGGER floating_holds_taken AFTER INSERT ON floating_holds
REFERENCING NEW TABLE AS changed
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_floating_changed();

CREATE TRIGGER floating_holds_freed AFTER DELETE ON floating_holds
REFERENCING OLD TABLE AS changed
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_floating_changed();
