-- Issue #22 (hardening): invites that admins control, bans, DM privacy, blocks, closable DMs.

-- Who may create invites: owners and admins always; plain members only while this is true (Discord's default).
ALTER TABLE servers ADD COLUMN members_can_invite BOOLEAN NOT NULL DEFAULT true;

-- A ban removes the member and refuses every later join of that user, through any invite.
CREATE TABLE server_bans (
    server_id  BIGINT      NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by  BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    reason     TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, user_id)
);

-- Blocks are one-way rows; their effects (no new DMs, no sends in a 1:1 DM, no presence through DMs) apply both ways.
CREATE TABLE user_blocks (
    blocker_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id);

-- Who may open a new DM with the user: people sharing a server with them (default), or anyone.
ALTER TABLE users ADD COLUMN dm_policy TEXT NOT NULL DEFAULT 'server_members' CHECK (dm_policy IN ('server_members', 'everyone'));

-- A participant who closed a 1:1 DM does not list it until a message newer than this id arrives.
ALTER TABLE dm_participants ADD COLUMN closed_after BIGINT;

-- Invites by creator (a banned member's invites are revoked with the ban).
CREATE INDEX invites_server_creator ON invites (server_id, creator_id);
