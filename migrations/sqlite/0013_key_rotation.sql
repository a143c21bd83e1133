-- Signing keys gain the state previous: after an activation the old key stays published, not
-- signing, until it is retired. At most one key in each live state, so at most three published.
-- SQLite cannot change a CHECK constraint: the table is rebuilt (nothing refers to it).
CREATE TABLE signing_keys_new (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('next', 'current', 'previous', 'retired')),
    certificate  BLOB NOT NULL,
    sealed_key   BLOB NOT NULL,
    kek_id       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT NOT NULL DEFAULT 0,
    retired_at   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO signing_keys_new (id, state, certificate, sealed_key, kek_id, created_at, activated_at, retired_at)
    SELECT id, state, certificate, sealed_key, kek_id, created_at, activated_at, retired_at FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_new RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_live ON signing_keys (state) WHERE state IN ('current', 'next', 'previous');
