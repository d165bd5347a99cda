-- The epoch for which a "rotation due by age" notice was sent: the periodic sweep of every key-service replica
-- claims a due group with one conditional UPDATE that sets it, so a group epoch is announced once, by one replica.
ALTER TABLE keys.groups ADD COLUMN age_announced_epoch BIGINT;
CREATE INDEX groups_epoch_started ON keys.groups (epoch_started_at);
