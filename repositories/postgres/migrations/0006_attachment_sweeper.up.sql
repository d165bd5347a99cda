-- Issue #17: the orphan sweeper. claimed_at: when a send last claimed the file, so a claim whose message was
-- never stored (a failed write, a crash, a client that gave up) can be recognised after a grace period.
ALTER TABLE attachments ADD COLUMN claimed_at TIMESTAMPTZ;
UPDATE attachments SET claimed_at = created_at WHERE status = 'claimed';
CREATE INDEX attachments_claimed ON attachments (claimed_at) WHERE status = 'claimed';
CREATE INDEX attachments_channel ON attachments (channel_id);
-- deleting_at: set just before its message is deleted in Cassandra, so files whose deletion a crash interrupted
-- (the message gone, its files not) are found again.
ALTER TABLE attachments ADD COLUMN deleting_at TIMESTAMPTZ;
CREATE INDEX attachments_deleting ON attachments (deleting_at) WHERE deleting_at IS NOT NULL;

-- Channels deleted (one by one, with their server, or an emptied group DM) while files of theirs remain. The
-- trigger writes the row in the deleting transaction itself, so no crash can lose it; the sweeper deletes the
-- files and then the row. Without this, finding them would take a scan of every attachment.
CREATE TABLE attachment_gone_channels (
    channel_id BIGINT PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE FUNCTION attachments_channel_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM attachments WHERE channel_id = OLD.id) THEN
        INSERT INTO attachment_gone_channels (channel_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER channels_gone_attachments AFTER DELETE ON channels FOR EACH ROW EXECUTE FUNCTION attachments_channel_gone();
-- Channels deleted before this migration.
INSERT INTO attachment_gone_channels (channel_id)
    SELECT DISTINCT a.channel_id FROM attachments a WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = a.channel_id);

-- The sweeper asks whether a stored avatar or server icon is still anyone's.
CREATE INDEX users_avatar_url ON users (avatar_url) WHERE avatar_url <> '';
CREATE INDEX servers_icon_url ON servers (icon_url) WHERE icon_url <> '';
