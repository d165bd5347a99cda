DROP TABLE IF EXISTS pending_registrations;
