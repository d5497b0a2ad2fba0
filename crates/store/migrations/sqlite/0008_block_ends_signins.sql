-- Blocking a user ends their sign-ins (API sign-in tokens and UI sessions, scope 'signin'),
-- whichever path blocks them (block, CSV import): a sign-in checks the user is active only
-- when it is used, so without this an unblock brought the old sign-ins back to life. API
-- tokens of scope 'admin'/'integration' are kept: they are made on purpose, listed and
-- revoked by hand, and refused while their owner is blocked.
-- Keep in step with ../postgres/0008_block_ends_signins.sql.
CREATE TRIGGER users_block_ends_signins AFTER UPDATE OF state ON users
WHEN NEW.state = 'blocked' AND OLD.state <> 'blocked'
BEGIN
    DELETE FROM api_tokens WHERE user_id = NEW.id AND scope = 'signin';
END;
