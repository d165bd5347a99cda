-- Issue #19: a DM is end-to-end encrypted for everyone in it, not per browser. Once on, it stays on (no path in
-- the code turns it off); the chat server then refuses plaintext in it. Only DMs can be encrypted.
ALTER TABLE channels ADD COLUMN encrypted BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE channels ADD CONSTRAINT channels_encrypted_dm CHECK (NOT encrypted OR kind = 'dm');
