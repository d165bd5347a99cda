DROP INDEX IF EXISTS keys.groups_epoch_started;
ALTER TABLE keys.groups DROP COLUMN IF EXISTS age_announced_epoch;
