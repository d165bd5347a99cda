ALTER TABLE keys.group_members DROP COLUMN seen_epoch;
