-- An account's cap on the lifetime of CLI sessions (rolegate account set --cli-session), in
-- seconds; 0 is the default, the web session's absolute limit.
ALTER TABLE accounts ADD COLUMN cli_session_max BIGINT NOT NULL DEFAULT 0;
