-- The portal at scale: an admin-set label groups accounts (prod, staging, sandbox), and each user
-- stars the roles they use most. A star goes with its user, and with its account.
ALTER TABLE accounts ADD COLUMN label TEXT NOT NULL DEFAULT '';
CREATE TABLE portal_favourites (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, account_id, role)
);
CREATE INDEX portal_favourites_account ON portal_favourites (account_id);
