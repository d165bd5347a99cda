-- Issue #22 (finding 13): with a mailer configured, registration proves the address before the account exists, so
-- its answer is the same whether or not the address already has an account. A pending registration holds the
-- form (the password already hashed) under the hash of the token mailed to the address, until it is used or expires.
CREATE TABLE pending_registrations (
    token_hash    BYTEA       PRIMARY KEY,
    username      TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_registrations_expires ON pending_registrations (expires_at);
