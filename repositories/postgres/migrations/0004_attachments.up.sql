-- Issue #17: files in messages. One row per uploaded file; the bytes are in the object store under
-- object_key (and preview_key). No foreign keys on purpose: a row must outlive its channel or owner until the
-- collector has deleted its objects, or the objects could never be found again.
CREATE TABLE attachments (
    id           BIGINT PRIMARY KEY,
    owner_id     BIGINT      NOT NULL,
    channel_id   BIGINT      NOT NULL,
    message_id   BIGINT,                 -- set once the message carrying it is stored
    nonce        TEXT,                   -- the send (owner, channel, nonce) that claimed it; retries reuse it
    status       TEXT        NOT NULL CHECK (status IN ('ready', 'claimed', 'attached')),
    name         TEXT        NOT NULL,
    content_type TEXT        NOT NULL,
    size         BIGINT      NOT NULL CHECK (size > 0),
    width        INT         NOT NULL DEFAULT 0,
    height       INT         NOT NULL DEFAULT 0,
    object_key   TEXT        NOT NULL,
    preview_key  TEXT,
    snippet      TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The collector's scan: uploads never sent.
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE status = 'ready';
-- Deleting a message deletes its files.
CREATE INDEX attachments_message ON attachments (message_id) WHERE message_id IS NOT NULL;
