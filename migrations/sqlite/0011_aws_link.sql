-- The IAM side of an account (store.AWSLink): the credentials rolegate aws register|check|revoke
-- use, whether responses are encrypted, and what IAM last reported of the account's SAML provider.
ALTER TABLE accounts ADD COLUMN aws_admin_profile TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN aws_admin_role_arn TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN encrypt_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN aws_idp_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN aws_provider_arn TEXT NOT NULL DEFAULT '';
-- Space-separated SHA-256 fingerprints of the signing certificates IAM held at aws_checked_at.
ALTER TABLE accounts ADD COLUMN aws_trusted_certs TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN aws_checked_at BIGINT NOT NULL DEFAULT 0;
