-- The ledger's generation: a counter that every transaction changing what a login reads
-- (users, roles, seats, products, limits, licenses) increments first. A server keeps the
-- login answers it has computed, tagged with the generation they were read at, and answers
-- a repeated login from memory only while the generation is unchanged (see
-- crates/store/src/login_cache.rs). Keep in step with ../postgres/0005_login_generation.sql.
INSERT INTO meta (key, value) VALUES ('generation', '0') ON CONFLICT (key) DO NOTHING;
