-- Reserved for smaller hardening findings (unique e-mail, one-time password expiry).
SELECT 1;
