-- One-time passwords expire (0 = never). E-mail addresses are unique regardless of case: email_key
-- is the folded address (NULL when there is none). The binary fills it in for existing users right
-- after this file runs, in the same transaction, and fails naming any users who share an address.
ALTER TABLE users ADD COLUMN password_expires_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN email_key TEXT;
CREATE UNIQUE INDEX users_email_key ON users (email_key);
