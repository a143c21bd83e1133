-- Signing keys gain the state previous: after an activation the old key stays published, not
-- signing, until it is retired. At most one key in each live state, so at most three published.
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check CHECK (state IN ('next', 'current', 'previous', 'retired'));
DROP INDEX signing_keys_live;
CREATE UNIQUE INDEX signing_keys_live ON signing_keys (state) WHERE state IN ('current', 'next', 'previous');
