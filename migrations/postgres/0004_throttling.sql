-- Sign-in throttling: growing delays per counter, the deployment's device-cookie key, and pending
-- SSO requests counted per client address.
ALTER TABLE throttles ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

ALTER TABLE saml_requests ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
CREATE INDEX saml_requests_client ON saml_requests (client_addr, expires_at);
