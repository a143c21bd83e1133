-- Reserved for CLI sessions (credential_process refresh); filled in by that change.
SELECT 1;
