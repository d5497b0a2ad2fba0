-- Floating holds are counted into their pools once per statement instead of once per row
-- (issue 3's throughput): a turn of logins that inserts thirty holds updated the pool's row
-- thirty times, each a new row version of the one row every node's logins touch. The
-- guarantee is the same: the statement's holds are added to `seat_pools.used` before the
-- statement ends, and the pool's CHECK (used <= capacity) refuses the statement, all its
-- rows, if they do not fit. Keep in step with ../sqlite/0006_floating_counts_per_statement.sql
-- (SQLite has row triggers only and keeps them).
DROP TRIGGER floating_holds_count ON floating_holds;
DROP FUNCTION sk_count_floating();

CREATE FUNCTION sk_count_floating_taken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE seat_pools p SET used = p.used + n.held
    FROM (SELECT product_code, area, kind, folder_id, count(*) AS held FROM taken
          GROUP BY product_code, area, kind, folder_id) n
    WHERE p.product_code = n.product_code AND p.area = n.area AND p.kind = n.kind
      AND p.folder_id = n.folder_id;
    RETURN NULL;
END $$;

CREATE FUNCTION sk_count_floating_freed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE seat_pools p SET used = p.used - n.held
    FROM (SELECT product_code, area, kind, folder_id, count(*) AS held FROM freed
          GROUP BY product_code, area, kind, folder_id) n
    WHERE p.product_code = n.product_code AND p.area = n.area AND p.kind = n.kind
      AND p.folder_id = n.folder_id;
    RETURN NULL;
END $$;

CREATE TRIGGER floating_holds_taken AFTER INSERT ON floating_holds
REFERENCING NEW TABLE AS taken
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_floating_taken();

CREATE TRIGGER floating_holds_freed AFTER DELETE ON floating_holds
REFERENCING OLD TABLE AS freed
FOR EACH STATEMENT EXECUTE FUNCTION sk_count_floating_freed();

