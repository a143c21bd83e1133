-- The browser (loopback) and device-code flows of rolegate login. Codes are kept only as hashes.
-- cli_auth_codes: a confirmed /cli/authorize, exchanged once at /cli/token within a minute for the
-- Response planned with what the browser session proved (methods, authn_instant, session_index).
CREATE TABLE cli_auth_codes (
    code_hash      BLOB PRIMARY KEY,
    challenge      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account        TEXT NOT NULL,
    role           TEXT NOT NULL,
    methods        TEXT NOT NULL,
    authn_instant  BIGINT NOT NULL,
    session_index  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX cli_auth_codes_expires ON cli_auth_codes (expires_at);

-- device_codes: a rolegate login --device-code waiting for approval (RFC 8628). The command line
-- polls with the device code; the person types the user code on /cli/device. status is pending,
-- approved or denied; a decided row goes at its first poll, so each code is used once.
CREATE TABLE device_codes (
    device_hash    BLOB PRIMARY KEY,
    user_hash      BLOB NOT NULL UNIQUE,
    client_name    TEXT NOT NULL,
    client_addr    TEXT NOT NULL,
    account        TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    interval_secs  BIGINT NOT NULL,
    last_poll_at   BIGINT NOT NULL,
    status         TEXT NOT NULL,
    user_id        BIGINT REFERENCES users (id) ON DELETE CASCADE,
    methods        TEXT NOT NULL,
    authn_instant  BIGINT NOT NULL,
    session_index  TEXT NOT NULL
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
