-- What of a Response to AWS is signed (rolegate account set --sign): '' both the Response and the
-- Assertion, as before this version; 'assertion' or 'response' one of them.
ALTER TABLE accounts ADD COLUMN sign_mode TEXT NOT NULL DEFAULT '';
