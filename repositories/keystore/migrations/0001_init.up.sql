-- The key service's storage, in its own schema so it can share the chat database or live in its own. The
-- server only ever holds public MLS material and opaque handshake messages; no private key reaches it.
CREATE SCHEMA IF NOT EXISTS keys;

-- One row per browser (an MLS member with its own credential). Removed devices are kept (removed_at) so a
-- removal is visible to the groups that still have to commit it.
CREATE TABLE keys.devices (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT      NOT NULL,
    name          TEXT        NOT NULL,
    signature_key BYTEA       NOT NULL,       -- public signature key of the device's credential (for listings)
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    removed_at    TIMESTAMPTZ
);
CREATE INDEX devices_user ON keys.devices (user_id);

-- Published key packages. A one-time package is deleted when claimed; the last-resort one (at most one per
-- device) is handed out when none is left, and stays.
CREATE TABLE keys.key_packages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   BIGINT      NOT NULL REFERENCES keys.devices (id) ON DELETE CASCADE,
    data        BYTEA       NOT NULL,
    last_resort BOOLEAN     NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX key_packages_device ON keys.key_packages (device_id, id) WHERE NOT last_resort;
CREATE UNIQUE INDEX key_packages_last_resort ON keys.key_packages (device_id) WHERE last_resort;

-- An MLS group (one per encrypted conversation). epoch is the epoch the service has ordered up to; a Commit is
-- accepted only against it. messages and epoch_started_at feed the rotation policy; membership_due_since is set
-- when a member device is removed from its owner's device list and cleared by the Commit that removes it.
CREATE TABLE keys.groups (
    id                   TEXT        PRIMARY KEY,
    channel_id           BIGINT,
    epoch                BIGINT      NOT NULL DEFAULT 0,
    epoch_started_at     TIMESTAMPTZ NOT NULL,
    messages             BIGINT      NOT NULL DEFAULT 0,
    membership_due_since TIMESTAMPTZ,
    created_by           BIGINT      NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX groups_channel ON keys.groups (channel_id) WHERE channel_id IS NOT NULL;

CREATE TABLE keys.group_members (
    group_id  TEXT   NOT NULL REFERENCES keys.groups (id) ON DELETE CASCADE,
    device_id BIGINT NOT NULL REFERENCES keys.devices (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL,
    PRIMARY KEY (group_id, device_id)
);
CREATE INDEX group_members_device ON keys.group_members (device_id);
CREATE INDEX group_members_user ON keys.group_members (user_id, group_id);

-- The ordered handshake log: the Commit that moved a group from epoch to epoch + 1. The primary key is the
-- "one Commit per epoch" rule.
CREATE TABLE keys.commits (
    group_id   TEXT        NOT NULL REFERENCES keys.groups (id) ON DELETE CASCADE,
    epoch      BIGINT      NOT NULL,
    sender     BIGINT      NOT NULL,
    data       BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, epoch)
);

-- Welcome messages waiting for the device they were made for; deleted when it acknowledges them.
CREATE TABLE keys.welcomes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  BIGINT      NOT NULL REFERENCES keys.devices (id) ON DELETE CASCADE,
    group_id   TEXT        NOT NULL REFERENCES keys.groups (id) ON DELETE CASCADE,
    epoch      BIGINT      NOT NULL,
    data       BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX welcomes_device ON keys.welcomes (device_id, id);
