DROP TABLE IF EXISTS invites, dm_participants, channels, server_members, servers, refresh_tokens, sessions, users;
