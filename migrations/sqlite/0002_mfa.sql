-- Second factors: TOTP and WebAuthn, recovery codes, and per-account MFA requirements.
ALTER TABLE accounts ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

-- A pending WebAuthn challenge lives on its session, so it goes when the session goes.
ALTER TABLE sessions ADD COLUMN challenge BLOB;
ALTER TABLE sessions ADD COLUMN challenge_expires_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE mfa_factors (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('totp', 'webauthn')),
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    secret        BLOB NOT NULL,  -- TOTP: sealed under the KEK; WebAuthn: the credential as JSON
    credential_id BLOB UNIQUE,    -- WebAuthn only
    confirmed     INTEGER NOT NULL DEFAULT 0,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (user_id, name_key)
);
-- One authenticator app per user.
CREATE UNIQUE INDEX mfa_factors_one_totp ON mfa_factors (user_id) WHERE kind = 'totp';

CREATE TABLE recovery_codes (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
