DROP INDEX IF EXISTS invites_server_creator;
ALTER TABLE dm_participants DROP COLUMN IF EXISTS closed_after;
ALTER TABLE users DROP COLUMN IF EXISTS dm_policy;
DROP TABLE IF EXISTS user_blocks, server_bans;
ALTER TABLE servers DROP COLUMN IF EXISTS members_can_invite;
