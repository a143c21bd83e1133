-- Times are Unix microseconds (0 = unset); durations are seconds. Names are unique by their lower-case key.
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT NOT NULL,
    name_key             TEXT NOT NULL UNIQUE,
    subject              TEXT NOT NULL UNIQUE, -- the persistent NameID: random, opaque, never reused
    email                TEXT NOT NULL DEFAULT '',
    display_name         TEXT NOT NULL DEFAULT '',
    disabled             INTEGER NOT NULL DEFAULT 0,
    password_hash        TEXT NOT NULL DEFAULT '',
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE user_attributes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    alias            TEXT NOT NULL,
    alias_key        TEXT NOT NULL UNIQUE,
    provider_name    TEXT NOT NULL,
    partition        TEXT NOT NULL,
    region           TEXT NOT NULL DEFAULT '',
    session_duration BIGINT NOT NULL DEFAULT 0,
    session_name_source    TEXT NOT NULL DEFAULT 'username',
    source_identity_source TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);

CREATE TABLE grants (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id         BIGINT REFERENCES groups (id) ON DELETE CASCADE,
    user_id          BIGINT REFERENCES users (id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    session_duration BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    CHECK ((group_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX grants_group_role ON grants (group_id, account_id, role) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX grants_user_role ON grants (user_id, account_id, role) WHERE user_id IS NOT NULL;
CREATE INDEX grants_account ON grants (account_id);

CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    certificate  BLOB NOT NULL,
    sealed_key   BLOB NOT NULL,
    kek_id       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT NOT NULL DEFAULT 0,
    retired_at   BIGINT NOT NULL DEFAULT 0
);
-- At most one current and one next key: replicas racing to create the first key cannot both win.
CREATE UNIQUE INDEX signing_keys_live ON signing_keys (state) WHERE state IN ('current', 'next');

CREATE TABLE sessions (
    token_hash       BLOB PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_methods     TEXT NOT NULL DEFAULT '',
    authenticated_at BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    idle_expires_at  BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    client_addr      TEXT NOT NULL DEFAULT '',
    user_agent       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        BIGINT NOT NULL,
    type        TEXT NOT NULL,
    user_name   TEXT NOT NULL DEFAULT '',
    user_key    TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL DEFAULT '',
    client_addr TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_user ON audit_events (user_key, time);

CREATE TABLE throttles (
    key      TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    reset_at BIGINT NOT NULL
);
CREATE INDEX throttles_reset ON throttles (reset_at);

CREATE TABLE tag_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    key_lower  TEXT NOT NULL,
    from_attr  TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL DEFAULT '',
    transitive INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, key_lower)
);

CREATE TABLE service_providers (
    entity_id  TEXT PRIMARY KEY,
    metadata   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- AuthnRequests from SPs, validated and kept server-side while the user signs in.
CREATE TABLE saml_requests (
    handle_hash  BLOB PRIMARY KEY,
    sp_entity_id TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    acs_url      TEXT NOT NULL,
    relay_state  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    consumed_at  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (sp_entity_id, request_id)
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);
