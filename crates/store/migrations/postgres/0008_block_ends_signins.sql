-- Blocking a user ends their sign-ins (API sign-in tokens and UI sessions, scope 'signin'),
-- whichever path blocks them (block, CSV import): a sign-in checks the user is active only
-- when it is used, so without this an unblock brought the old sign-ins back to life. API
-- tokens of scope 'admin'/'integration' are kept: they are made on purpose, listed and
-- revoked by hand, and refused while their owner is blocked.
-- Keep in step with ../sqlite/0008_block_ends_signins.sql.
CREATE FUNCTION sk_block_ends_signins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM api_tokens WHERE user_id = NEW.id AND scope = 'signin';
    RETURN NULL;
END $$;

CREATE TRIGGER users_block_ends_signins AFTER UPDATE OF state ON users
FOR EACH ROW WHEN (NEW.state = 'blocked' AND OLD.state <> 'blocked')
EXECUTE FUNCTION sk_block_ends_signins();
