-- Command-line sessions: they let rolegate credential-process get fresh credentials without a
-- prompt. Only the token's hash is kept; id is public (listing, revoking). binding is a hash of
-- the password and factors the session was created with: when they change, the session is dead.
CREATE TABLE cli_sessions (
    id            TEXT PRIMARY KEY,
    token_hash    BYTEA NOT NULL UNIQUE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id    TEXT NOT NULL DEFAULT '',
    auth_methods  TEXT NOT NULL DEFAULT '',
    authn_instant BIGINT NOT NULL,
    binding       BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    client_addr   TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    host_name     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cli_sessions_user ON cli_sessions (user_id);
