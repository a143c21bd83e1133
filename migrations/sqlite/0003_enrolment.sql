-- First-factor enrolment: a password alone never adds a user's first second factor. It takes an
-- admin's invite (single use, expiring; only its hash is kept) or a self-enrolment window.

-- At most one invite per user: a new one replaces the earlier.
CREATE TABLE enrol_invites (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Self-enrolment windows: scope '*' holds the global one (account_id NULL); any other scope is an
-- account's ID, and the window goes with its account.
CREATE TABLE enrol_windows (
    scope      TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    opened_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    CHECK ((scope = '*' AND account_id IS NULL) OR scope = account_id)
);
