ALTER TABLE channels DROP CONSTRAINT channels_encrypted_dm;
ALTER TABLE channels DROP COLUMN encrypted;
