-- Reserved for SAML request checks (signed AuthnRequests).
SELECT 1;
