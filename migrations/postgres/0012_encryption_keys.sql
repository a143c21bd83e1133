-- Each account's key pairs for encrypted assertions (store.EncryptionKey): the private key sealed
-- under the KEK, the KeyId IAM gave it on upload. They go with their account.
CREATE TABLE encryption_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    certificate  BYTEA NOT NULL,
    sealed_key   BYTEA NOT NULL,
    kek_id       TEXT NOT NULL,
    aws_key_id   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    activated_at BIGINT NOT NULL DEFAULT 0,
    retired_at   BIGINT NOT NULL DEFAULT 0
);
-- At most one current and one next key per account.
CREATE UNIQUE INDEX encryption_keys_live ON encryption_keys (account_id, state) WHERE state IN ('current', 'next');
CREATE INDEX encryption_keys_account ON encryption_keys (account_id, created_at);
