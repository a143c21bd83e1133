-- SAML request checks: SPs that must sign their AuthnRequests, and what a pending request asks of the sign-in.
ALTER TABLE service_providers ADD COLUMN require_signed_requests BOOLEAN NOT NULL DEFAULT FALSE;

-- ForceAuthn: the user authenticates afresh, after the request arrived.
ALTER TABLE saml_requests ADD COLUMN force_authn BOOLEAN NOT NULL DEFAULT FALSE;
-- The authentication context classes Rolegate may assert for the request's RequestedAuthnContext,
-- space-separated; empty when the request asked for none.
ALTER TABLE saml_requests ADD COLUMN authn_contexts TEXT NOT NULL DEFAULT '';
