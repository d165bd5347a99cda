-- The epoch each member device has reached (it asked for the Commits from there on, sent the Commit that
-- started it, or joined in it). Commits below every member's seen_epoch are needed by nobody and are pruned.
ALTER TABLE keys.group_members ADD COLUMN seen_epoch BIGINT NOT NULL DEFAULT 0;
