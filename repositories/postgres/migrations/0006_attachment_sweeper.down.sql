DROP INDEX IF EXISTS servers_icon_url;
DROP INDEX IF EXISTS users_avatar_url;
DROP TRIGGER IF EXISTS channels_gone_attachments ON channels;
DROP FUNCTION IF EXISTS attachments_channel_gone();
DROP TABLE IF EXISTS attachment_gone_channels;
DROP INDEX IF EXISTS attachments_channel;
DROP INDEX IF EXISTS attachments_claimed;
ALTER TABLE attachments DROP COLUMN IF EXISTS claimed_at;
